// The swap experiment: models whose outer layers (embedding, MLP second layer, decoder) come from
// the final step and every other layer from an earlier step i, on the grid of interval weights
// written during training — when do the inner layers already hold what the final model needs?
#pragma once

#include <cstdint>
#include <vector>

#include "examples/grokking/config.hpp"
#include "examples/grokking/run_dir.hpp"
#include "nn/data/modular.hpp"

namespace pathgrad::grokking {

// The parameters taken from the final model.
std::vector<std::string> swapped_parameters();

struct SwapResult {
  std::vector<double> step;          // i: every interval weight file up to the final step
  std::vector<double> own_accuracy;  // validation accuracy of the model of step i itself
  std::vector<double> accuracy;      // validation accuracy of the swapped model
  std::vector<double> kl;            // mean KL(final || swapped) over the validation pairs
};

// Reads <run>/weights/step_*.safetensors (i <= final_step) and the final weights.
// Throws std::runtime_error naming a file that cannot be read.
SwapResult swap_experiment(const Config& config, const RunDir& dir, const nn::data::ModularData& data,
                           int64_t final_step);

}  // namespace pathgrad::grokking
