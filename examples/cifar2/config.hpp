// The CIFAR-2 example's settings: data, model, SGD and its schedule, training, tracking and
// output, their command-line flags (CLI11) and their JSON form (config.json).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "explaind/tracker.hpp"

namespace pathgrad::cifar2 {

// How much the explaind tracker records.
//   off:     plain training
//   cheap:   replica, step-wise and component-wise (per layer) influence of every probe scalar
//   samples: also the data influence of every training image on the first --sample-probes probes
enum class TrackLevel { Off, Cheap, Samples };

struct Config {
  // data (nn/data/cifar.hpp): cats (0) and dogs (1), normalised with the fixed CIFAR-10 statistics
  std::string data_dir = "../shared/data/cifar10-catdog-bin";
  int64_t train_images = 0;  // the first N training images; 0: all 10,000
  // model (examples/cifar2/model.hpp)
  int64_t width = 8;  // 64 = the paper's ResNet-9
  uint64_t seed = 0;  // initial weights; also the loader's shuffle (seed) and the flips (seed + 1)
  // SGD with PyTorch's coupled weight decay, lr a triangle per iteration (optim/schedule.hpp)
  double lr = 0.1, momentum = 0.9, weight_decay = 5e-3;
  int64_t epochs = 12, peak_epoch = 5;
  int64_t batch_size = 256;  // drop_last: every step sees a full batch
  // training
  int64_t checkpoint_every = 50;  // steps between interval weights and resume checkpoints
  int64_t progress_every = 10;
  int64_t stop_after = 0;  // pause (checkpoint and exit, resumable) after this step; 0: never
  // Data-parallel training under mpirun (docs/scaling.md): every batch in `shards` fixed shards,
  // each rank computing its share; bit-identical for 1 to `shards` ranks. 0: one shard per rank.
  int64_t shards = 0;
  // tracking: a float64 probe model; the probes are the first `probes` test images, both class
  // log-probabilities of each
  TrackLevel track = TrackLevel::Cheap;
  int64_t probes = 4;
  int64_t sample_probes = 2;        // samples level: the first N probe images (per-sample buffers: N_train × P)
  std::string buffers = "float32";  // dtype of the per-sample buffers: float32 (~1e-7 relative) or float64
  // samples level: training samples per chunk of per-sample gradients ([chunk, P] float64 and its
  // intermediates: the largest memory beside the buffers; docs/scaling.md)
  int64_t sample_chunk = 256;
  // The integration of the path integral (explaind/tracker.hpp, TrackerOptions; docs/cifar2.md):
  // the residuals in the report say what it misses.
  std::string rule = "gauss_legendre:2";
  int64_t pieces = 1;       // equal pieces each step starts from
  bool fractions = true;    // active fractions of the ReLUs and max-pool windows switching in a piece
  bool kinks = false;       // split each probe's segment at its ReLU crossings
  bool adaptive = true;     // halve the pieces of probes whose |ρ_s| exceeds the tolerance
  bool extrapolate = true;  // accept a halved piece's Richardson combination when within tolerance
  double tolerance = 2e-7;
  int max_depth = 8;
  // The pruning experiment (examples/cifar2/pruning.hpp): parameter-wise influence of the first
  // `importance_images` test images, tracked with `importance_rule` on one piece per step without
  // refinement (a second tracker); scores and pruned models are evaluated on the last
  // kPruningEvalImages test images. 0: no pruning experiment; 1500: the paper's protocol.
  int64_t importance_images = 64;
  std::string importance_rule = "gauss_legendre:2";
  // Importance images per tracking pass (examples/cifar2/importance_chunks.hpp): chunk 0 in the
  // training pass, every further chunk in a rerun of the training. 0: as many as fit
  // memory_budget_gb.
  int64_t importance_chunk = 0;
  // Each tracker refuses to start over this many GB; it also sizes the importance chunks.
  double memory_budget_gb = 8;
  // output
  std::string out = "runs/cifar2";
  bool resume = false;
  bool report = true;
  int threads = 2;

  bool tracking() const { return track != TrackLevel::Off; }
  bool sample_level() const { return track == TrackLevel::Samples; }
  bool pruning() const { return importance_images > 0; }
  int64_t shards_for(int ranks) const { return shards > 0 ? shards : ranks; }
  // Throws std::invalid_argument naming the flag and value at fault.
  void validate() const;
};

const char* track_level_name(TrackLevel level);

// Registers every field of `config` as a flag of `app` (defaults shown by --help).
void add_flags(CLI::App& app, Config& config);

nlohmann::json to_json(const Config& config);
// For --resume: throws std::invalid_argument naming every flag whose value differs from the
// run's config.json in a way that would change the run (everything except --stop-after,
// --resume, --report, --progress-every, --threads and --data).
void check_resumable(const Config& config, const nlohmann::json& saved, const std::string& saved_path);

// The tracker's integration settings of the config (rule, kinks, adaptive, tolerance, depth).
explaind::TrackerOptions integration_options(const Config& config);
// The importance tracker's: --importance-rule on one piece, active fractions as --fractions, no
// kink search, no refinement; parameter-wise influence of the whole run, no per-window copy.
explaind::TrackerOptions importance_options(const Config& config);

// The pruned models are evaluated on the last this many test images (the paper: importance from
// 1,500 test images, evaluation on the other 500).
inline constexpr int64_t kPruningEvalImages = 500;

}  // namespace pathgrad::cifar2
