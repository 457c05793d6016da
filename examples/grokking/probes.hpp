// The data of the grokking run and the probes the tracker explains: which validation and training
// pairs are probed, as explaind probe sets, and the a + b order used by every sorted plot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "examples/grokking/config.hpp"
#include "explaind/probes.hpp"
#include "nn/data/modular.hpp"

namespace pathgrad::grokking {

// The modular-addition split of the config (nn/data/modular.hpp's rule).
nn::data::ModularData make_data(const Config& config);

// Names of the probe sets, in the order of the tracker's probe scalars.
inline constexpr const char* kSampleLevelSet = "val_sample_level";  // validation, sample-level
inline constexpr const char* kValidationSet = "val";                // the other validation probes
inline constexpr const char* kTrainSet = "train";
inline constexpr const char* kOutputSet = "val_all_outputs";  // validation, every output

// Which pairs are probed: split indices, drawn with config.probe_seed.
struct ProbeChoice {
  std::vector<int64_t> sample_level;  // validation indices, the sample-level probes
  std::vector<int64_t> validation;    // further validation indices (cheap level only)
  std::vector<int64_t> train;         // training indices
  std::vector<int64_t> outputs;       // validation indices tracked on all outputs (argmax, KL)
};
ProbeChoice choose_probes(const nn::data::ModularData& data, const Config& config);

// The probe sets, on the label's log-probability (the output set: on every output); ids are
// split indices.
std::vector<explaind::ProbeSet> make_probe_sets(const nn::data::ModularData& data, const ProbeChoice& choice);

// Positions 0..n-1 of `ids` ordered by a + b of split `pairs` (int64 [N, 2]), ties by a.
std::vector<int64_t> order_by_sum(const Tensor& pairs, const std::vector<int64_t>& ids);
// a + b of each of `ids`.
std::vector<int64_t> pair_sums(const Tensor& pairs, const std::vector<int64_t>& ids);

}  // namespace pathgrad::grokking
