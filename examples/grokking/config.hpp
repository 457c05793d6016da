// The grokking example's settings: every hyperparameter of data, model, optimizer, training,
// tracking and output, their command-line flags (CLI11) and their JSON form (config.json).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "examples/grokking/model.hpp"

namespace pathgrad::grokking {

// How much the explaind tracker records.
//   off:     plain training
//   cheap:   replica, step-wise and component-wise influence of every probe, and probe x parameter
//            influence (per window) of the sample-level probes: the similarity matrices
//   samples: + data influence (probe x training sample) of the sample-level probes
//   full:    + sample x component (exported, not plotted)
enum class TrackLevel { Off, Cheap, Samples, Full };

struct Config {
  // data (nn/data/modular.hpp)
  int64_t p = 113;
  int64_t n_train = 4000;
  int64_t n_val = 2000;
  uint64_t split_seed = 0;
  // model
  int64_t d_model = 64, heads = 4, d_head = 16, d_mlp = 512;
  uint64_t seed = 0;
  // AdamW
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.98, eps = 1e-8, weight_decay = 4.0;
  // training
  int64_t steps = 4000;           // at most; stops once train and validation accuracy are 100 %
  int64_t checkpoint_every = 50;  // interval weights (swap experiment) and resume checkpoints
  int64_t progress_every = 50;
  int64_t stop_after = 0;  // pause (checkpoint and exit, resumable) after this step; 0: never
  // The batch's fixed partition for data-parallel training (optim/shard_plan.hpp, docs/scaling.md):
  // runs with the same shards are bit-identical for every number of ranks up to it; 0: one per rank.
  int64_t shards = 0;
  // tracking
  // The defaults fit the README's ~15-minute budget on two cores (docs/grokking.md); the paper's
  // analysis is --track full --val-probes 2000 --sample-probes 64 --train-probes 64.
  TrackLevel track = TrackLevel::Cheap;
  std::string rule = "gauss_legendre:2";
  double tolerance = 1e-8;
  int max_depth = 6;           // halvings of a probe input's pieces at most, per step
  int64_t val_probes = 192;    // validation pairs on the label's output (cheap level); capped at n_val
  int64_t sample_probes = 64;  // of those, the first k are sample-level (similarity matrices, data influence)
  int64_t train_probes = 32;   // training pairs on the label's output (cheap level)
  int64_t output_probes = 0;   // of the validation probes, how many are also tracked on all p outputs
  uint64_t probe_seed = 1;     // which validation / training pairs become probes
  std::vector<int64_t> window_edges = {200, 250, 500, 1100, 1900};
  bool float32_buffers = false;  // per-sample buffers in float32 (half the memory)
  // output
  std::string out = "runs/grokking";
  bool resume = false;
  bool report = true;
  int threads = 2;  // threads of OpenBLAS and of pathgrad's loops

  ModelShape model_shape() const { return {p + 2, d_model, heads, d_head, d_mlp}; }
  bool tracking() const { return track != TrackLevel::Off; }
  bool sample_level() const { return track == TrackLevel::Samples || track == TrackLevel::Full; }
  // The shard count of a run over `ranks` processes: `shards`, or one shard per rank when it is 0.
  int64_t shards_for(int ranks) const { return shards > 0 ? shards : ranks; }
  // Throws std::invalid_argument naming the flag and value at fault.
  void validate() const;
};

const char* track_level_name(TrackLevel level);

// Registers every field of `config` as a flag of `app` (defaults shown by --help).
void add_flags(CLI::App& app, Config& config);

nlohmann::json to_json(const Config& config);
// For --resume: throws std::invalid_argument naming every flag whose value differs from the
// run's config.json in a way that would change the run (everything except --steps, --stop-after,
// --resume, --report, --progress-every and --threads).
void check_resumable(const Config& config, const nlohmann::json& saved, const std::string& saved_path);

}  // namespace pathgrad::grokking
