// The training loop of the grokking example: full-batch AdamW steps with per-step metrics,
// progress lines, interval weights and resume checkpoints, early stop at 100 % accuracy, and a
// clean stop on Ctrl-C (a checkpoint is written first).
#pragma once

#include <cstdint>
#include <vector>

#include "examples/common/evaluation.hpp"
#include "examples/grokking/config.hpp"
#include "examples/grokking/metrics.hpp"
#include "examples/grokking/model.hpp"
#include "examples/grokking/run_dir.hpp"
#include "nn/data/loader.hpp"
#include "nn/data/modular.hpp"
#include "optim/adam.hpp"
#include "optim/checkpoint.hpp"
#include "optim/communicator.hpp"

namespace pathgrad::grokking {

struct TrainingOutcome {
  Metrics metrics;
  int64_t steps = 0;              // optimizer steps taken (the final model is θ_steps)
  bool converged = false;         // stopped because train and validation accuracy are both 100 %
  bool interrupted = false;       // paused by SIGINT/SIGTERM or --stop-after; a checkpoint was written
  double seconds = 0;             // training time including tracking, over every session of the run
  double checkpoint_seconds = 0;  // of which writing resume checkpoints
};

// Trains from the optimizer's current step (0, or the resumed one; `resumed` holds the metrics
// and time of the earlier sessions) until config.steps, convergence or an interrupt. Every
// config.checkpoint_every steps writes the interval weights and a resume checkpoint holding
// `parts` too (the tracker's state); when training ends (not paused) it writes a last checkpoint
// at the final step, from which the final phase (exports, report) can always be run again.
// A non-finite training loss stops the run with std::runtime_error (the last checkpoint stays).
// Data-parallel over `comm`'s ranks: each computes its shards of config.shards (all ranks run
// this with the same arguments and take identical steps); only rank 0 writes files, and a pause
// requested on any rank pauses every rank at the same step.
TrainingOutcome train(Transformer& model, optim::AdamW& optimizer, nn::data::DataLoader& loader,
                      const nn::data::ModularData& data, const Config& config, const RunDir& dir,
                      TrainingOutcome resumed, const std::vector<optim::CheckpointPart>& parts,
                      const optim::Communicator& comm);

// The JSON kept in the resume checkpoint (optim::save_checkpoint's extra) and back.
nlohmann::json outcome_to_json(const TrainingOutcome& outcome);
TrainingOutcome outcome_from_json(const nlohmann::json& j);

// Mean NLL loss and accuracy (examples/common/evaluation.hpp).
using examples::accuracy;
using examples::evaluate;
using examples::Evaluation;

}  // namespace pathgrad::grokking
