// The training loop of the CIFAR-2 example: SGD steps on augmented mini-batches with per-step
// and per-epoch metrics, progress lines, interval weights and resume checkpoints, and a clean
// pause on Ctrl-C or --stop-after (a checkpoint is written first).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "examples/cifar2/config.hpp"
#include "examples/cifar2/metrics.hpp"
#include "examples/cifar2/model.hpp"
#include "examples/cifar2/run_dir.hpp"
#include "nn/data/image_set.hpp"
#include "nn/data/loader.hpp"
#include "optim/checkpoint.hpp"
#include "optim/communicator.hpp"
#include "optim/sgd.hpp"

namespace pathgrad::cifar2 {

struct TrainingOutcome {
  Metrics metrics;
  int64_t steps = 0;              // optimizer steps taken (the final model is θ_steps)
  bool interrupted = false;       // paused by SIGINT/SIGTERM or --stop-after; a checkpoint was written
  double seconds = 0;             // training time including tracking, over every session of the run
  double checkpoint_seconds = 0;  // of which writing resume checkpoints
};

// What the loop trains: the model, its optimizer (with the triangle schedule set) and the loader
// of augmented training batches; the test images are evaluated after every epoch. Every batch's
// gradient is formed over `shards` fixed shards, this process computing its ranks' share
// (optim/data_parallel.hpp); rank 0 alone writes checkpoints and weights.
struct Trainee {
  ResNet9& model;
  optim::SGD& optimizer;
  nn::data::DataLoader& loader;
  const nn::data::ImageSet& test;
  const optim::Communicator& comm;
  int64_t shards = 1;
};

// Where a training pass saves: its resume checkpoint, and whether it writes the interval weights
// (weights/step_*.safetensors) — the run's pass does, an importance-chunk rerun, which retraces
// it, does not.
struct TrainingFiles {
  std::string checkpoint;
  bool interval_weights = true;
};

// Total optimizer steps of the run: epochs × full batches per epoch.
int64_t total_steps(const Config& config, const nn::data::DataLoader& loader);

// Trains from the optimizer's current step (0, or the resumed one; `resumed` holds the metrics
// and time of the earlier sessions) to total_steps() or an interrupt. Every
// config.checkpoint_every steps writes the interval weights (into `dir`) and a resume checkpoint
// (files.checkpoint) holding `parts` too (the trackers' states); when training ends (not paused)
// it writes a last checkpoint at the final step, from which the final phase (exports, report) can
// always be run again. A non-finite training loss stops the run with std::runtime_error (the last
// checkpoint stays).
TrainingOutcome train(Trainee& t, const Config& config, const RunDir& dir, const TrainingFiles& files,
                      TrainingOutcome resumed, const std::vector<optim::CheckpointPart>& parts);

// The JSON kept in the resume checkpoint (optim::save_checkpoint's extra) and back.
nlohmann::json outcome_to_json(const TrainingOutcome& outcome);
TrainingOutcome outcome_from_json(const nlohmann::json& j);

}  // namespace pathgrad::cifar2
