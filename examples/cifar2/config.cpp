// Flags, validation and JSON form of the CIFAR-2 example's settings.
#include "examples/cifar2/config.hpp"

#include <fmt/format.h>

#include <map>
#include <stdexcept>

#include "examples/common/cli_numbers.hpp"
#include "examples/common/require_flag.hpp"
#include "examples/common/run_session.hpp"
#include "explaind/quadrature.hpp"

namespace pathgrad::cifar2 {

namespace {
const std::map<std::string, TrackLevel> kLevels = {
    {"off", TrackLevel::Off}, {"cheap", TrackLevel::Cheap}, {"samples", TrackLevel::Samples}};
using examples::number_option;
using examples::require_flag;

std::string positive(int64_t v) { return fmt::format("must be at least 1, got {}", v); }
}  // namespace

const char* track_level_name(TrackLevel level) {
  for (const auto& [name, l] : kLevels)
    if (l == level) return name.c_str();
  return "?";
}

namespace {
void require_rule(const std::string& rule, const char* flag) {
  try {
    explaind::parse_rule(rule);
  } catch (const std::invalid_argument& e) {
    require_flag(false, flag, e.what());
  }
}
}  // namespace

void Config::validate() const {
  require_flag(!data_dir.empty(), "data", "must not be empty");
  require_flag(train_images >= 0, "train-images", fmt::format("must be >= 0 (0: all), got {}", train_images));
  require_flag(width >= 1, "width", positive(width));
  require_flag(lr > 0, "lr", fmt::format("must be positive, got {}", lr));
  require_flag(momentum >= 0 && momentum < 1, "momentum", fmt::format("must be in [0, 1), got {}", momentum));
  require_flag(weight_decay >= 0, "weight-decay", fmt::format("must be >= 0, got {}", weight_decay));
  require_flag(epochs >= 2, "epochs",
               fmt::format("must be at least 2 (the triangle rises, then falls), got {}", epochs));
  require_flag(peak_epoch >= 1 && peak_epoch < epochs, "peak-epoch",
               fmt::format("must be in [1, epochs - 1 = {}], got {}", epochs - 1, peak_epoch));
  require_flag(batch_size >= 1, "batch", positive(batch_size));
  require_flag(train_images == 0 || train_images >= batch_size, "train-images",
               fmt::format("{} images make no full batch of --batch {} (drop_last)", train_images, batch_size));
  require_flag(checkpoint_every >= 1, "checkpoint-every", positive(checkpoint_every));
  require_flag(progress_every >= 1, "progress-every", positive(progress_every));
  require_flag(stop_after >= 0, "stop-after", fmt::format("must be >= 0, got {}", stop_after));
  require_flag(shards >= 0 && shards <= batch_size, "shards",
               fmt::format("must be in [0, --batch = {}] (0: one shard per rank), got {}", batch_size, shards));
  require_flag(probes >= 1, "probes", positive(probes));
  require_flag(!sample_level() || (sample_probes >= 1 && sample_probes <= probes), "sample-probes",
               fmt::format("must be in [1, --probes = {}], got {}", probes, sample_probes));
  require_flag(sample_chunk >= 1, "sample-chunk", positive(sample_chunk));
  require_flag(buffers == "float64" || buffers == "float32", "buffers",
               fmt::format("must be float64 or float32, got '{}'", buffers));
  require_rule(rule, "rule");
  require_rule(importance_rule, "importance-rule");
  require_flag(importance_images >= 0, "importance-images",
               fmt::format("must be >= 0 (0: no pruning), got {}", importance_images));
  require_flag(importance_chunk >= 0, "importance-chunk",
               fmt::format("must be >= 0 (0: as many as fit --memory-budget), got {}", importance_chunk));
  require_flag(memory_budget_gb > 0, "memory-budget", fmt::format("must be positive (GB), got {}", memory_budget_gb));
  require_flag(tolerance > 0, "tolerance", fmt::format("must be positive, got {}", tolerance));
  require_flag(pieces >= 1 && pieces <= 4096, "pieces", fmt::format("must be in [1, 4096], got {}", pieces));
  require_flag(max_depth >= 0 && max_depth <= 20, "max-depth", fmt::format("must be in [0, 20], got {}", max_depth));
  require_flag(threads >= 1, "threads", positive(threads));
  require_flag(!out.empty(), "out", "must not be empty");
}

void add_flags(CLI::App& app, Config& c) {
  app.option_defaults()->always_capture_default();
  app.add_option("--data", c.data_dir, "Directory of the CIFAR-2 binary batches (cat 3 -> 0, dog 5 -> 1)")
      ->group("Data");
  number_option(app, "--train-images", c.train_images, "Use the first N training images (0: all)")->group("Data");

  number_option(app, "--width", c.width, "Channels of ResNet-9's first convolution (64: the paper's network)")
      ->group("Model");
  number_option(app, "--seed", c.seed,
                "Seed of the initial weights, the loader's shuffle (seed) and the flips (seed + 1)")
      ->group("Model");

  number_option(app, "--lr", c.lr, "Peak learning rate of the triangle schedule")->group("Optimizer");
  number_option(app, "--momentum", c.momentum, "SGD momentum")->group("Optimizer");
  number_option(app, "--weight-decay", c.weight_decay, "SGD weight decay (coupled: added to the gradient)")
      ->group("Optimizer");
  number_option(app, "--epochs", c.epochs, "Epochs; the lr falls linearly to 0 at the end of the last")
      ->group("Optimizer");
  number_option(app, "--peak-epoch", c.peak_epoch, "Epoch at whose start the lr peaks (rising linearly from 0)")
      ->group("Optimizer");
  number_option(app, "--batch", c.batch_size, "Batch size (the last incomplete batch of an epoch is dropped)")
      ->group("Optimizer");

  number_option(app, "--checkpoint-every", c.checkpoint_every, "Steps between interval weights and resume checkpoints")
      ->group("Training");
  number_option(app, "--progress-every", c.progress_every, "Steps between progress lines")->group("Training");
  number_option(app, "--stop-after", c.stop_after,
                "Pause after this step as on Ctrl-C: write a checkpoint and exit, to continue later with --resume "
                "(0: run to the end)")
      ->group("Training");
  number_option(app, "--shards", c.shards,
                "Shards of every batch for data-parallel training under mpirun: each rank computes its share of them; "
                "runs with the same --shards are bit-identical for 1 to --shards ranks (0: one shard per rank)")
      ->group("Training");

  app.add_option_function<std::string>(
         "--track", [&c](const std::string& name) { c.track = kLevels.at(name); },
         "Tracker level: off; cheap (replica, step-wise and per-layer influence of the probes); samples (also "
         "the data influence of every training image on the first --sample-probes probes)")
      ->check(CLI::IsMember(std::vector<std::string>{"off", "cheap", "samples"}))
      ->default_str(track_level_name(c.track))
      ->group("Tracking");
  number_option(app, "--probes", c.probes, "Probes: the first N test images, both class log-probabilities of each")
      ->group("Tracking");
  number_option(app, "--sample-probes", c.sample_probes,
                "--track samples: the data influence of every training image on the first N probes")
      ->group("Tracking");
  number_option(app, "--sample-chunk", c.sample_chunk,
                "--track samples: training images per chunk of per-sample gradients (memory ~ chunk x parameters; "
                "results do not depend on it beyond rounding)")
      ->group("Tracking");
  app.add_option("--buffers", c.buffers, "dtype of the per-sample buffers (N_train x P): float64 or float32")
      ->check(CLI::IsMember(std::vector<std::string>{"float64", "float32"}))
      ->group("Tracking");
  app.add_option("--rule", c.rule,
                 "Quadrature rule of each step's path integral: midpoint:N, trapezoid, simpson, gauss_legendre:N, "
                 "gauss_lobatto:N")
      ->group("Tracking");
  number_option(app, "--pieces", c.pieces, "Equal pieces of every step's segment, each integrated with --rule")
      ->group("Tracking");
  app.add_flag("--fractions,!--no-fractions", c.fractions,
               "Active fractions for the ReLU units and max-pool windows that switch within a piece")
      ->group("Tracking");
  app.add_flag("--kinks,!--no-kinks", c.kinks, "Split each probe's path at its ReLU crossings")->group("Tracking");
  app.add_flag("--adaptive,!--no-adaptive", c.adaptive, "Halve the pieces of probes whose residual exceeds --tolerance")
      ->group("Tracking");
  app.add_flag("--extrapolate,!--no-extrapolate", c.extrapolate,
               "Accept a halved piece's Richardson combination (4 x halves - piece) / 3 when its residual is within "
               "the tolerance")
      ->group("Tracking");
  number_option(app, "--tolerance", c.tolerance, "Per-step residual the adaptive refinement aims for (absolute)")
      ->group("Tracking");
  number_option(app, "--max-depth", c.max_depth, "Halvings of a probe's pieces at most per step (adaptive)")
      ->group("Tracking");

  number_option(app, "--importance-images", c.importance_images,
                "Pruning: parameter-wise influence of the first N test images scores the weights (0: no pruning "
                "experiment; 1500: the paper's protocol); the last 500 test images evaluate the pruned models")
      ->group("Pruning");
  app.add_option("--importance-rule", c.importance_rule,
                 "Quadrature rule of the importance images' path integrals (one piece per step, no refinement)")
      ->group("Pruning");
  number_option(app, "--importance-chunk", c.importance_chunk,
                "Importance images per tracking pass: the first chunk in the training pass, each further one in a "
                "rerun of the same training (0: as many as fit --memory-budget)")
      ->group("Pruning");
  number_option(app, "--memory-budget", c.memory_budget_gb,
                "GB each tracker may hold (it refuses to start over it); sizes the importance chunks")
      ->group("Pruning");

  // The last --out wins, so that scripts/cifar2.sh (which passes --out runs/cifar2) takes another.
  app.add_option("--out", c.out, "Run directory (created; holds every output)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->group("Output");
  app.add_flag("--resume", c.resume, "Continue the run in --out from its last checkpoint")->group("Output");
  app.add_flag("--report,!--no-report", c.report, "Write the analyses, plots and report after training")
      ->group("Output");
  number_option(app, "--threads", c.threads, "Threads (OpenBLAS and pathgrad's own loops)")->group("Output");
}

nlohmann::json to_json(const Config& c) {
  return {{"data", {{"data_dir", c.data_dir}, {"train_images", c.train_images}}},
          {"model", {{"width", c.width}, {"seed", c.seed}}},
          {"optimizer",
           {{"name", "SGD"},
            {"lr", c.lr},
            {"momentum", c.momentum},
            {"weight_decay", c.weight_decay},
            {"epochs", c.epochs},
            {"peak_epoch", c.peak_epoch},
            {"batch", c.batch_size}}},
          {"training",
           {{"checkpoint_every", c.checkpoint_every},
            {"progress_every", c.progress_every},
            {"stop_after", c.stop_after},
            {"shards", c.shards}}},
          {"tracking",
           {{"track", track_level_name(c.track)},
            {"probes", c.probes},
            {"sample_probes", c.sample_probes},
            {"sample_chunk", c.sample_chunk},
            {"buffers", c.buffers},
            {"rule", c.rule},
            {"pieces", c.pieces},
            {"fractions", c.fractions},
            {"kinks", c.kinks},
            {"adaptive", c.adaptive},
            {"extrapolate", c.extrapolate},
            {"tolerance", c.tolerance},
            {"max_depth", c.max_depth}}},
          {"pruning",
           {{"importance_images", c.importance_images},
            {"importance_rule", c.importance_rule},
            {"importance_chunk", c.importance_chunk},
            {"memory_budget_gb", c.memory_budget_gb}}},
          {"output", {{"out", c.out}, {"report", c.report}, {"threads", c.threads}}}};
}

void check_resumable(const Config& config, const nlohmann::json& saved, const std::string& saved_path) {
  // Settings that do not change the trajectory or the tracker's accounting may differ. Runs from
  // before --shards existed trained on the plain gradient: one shard; before --importance-chunk,
  // all importance images in the training pass under the tracker's 8 GB budget; before
  // --sample-chunk, chunks of 256: the defaults.
  nlohmann::json was = saved;
  if (was.contains("training") && !was["training"].contains("shards")) was["training"]["shards"] = 1;
  if (was.contains("pruning") && !was["pruning"].contains("importance_chunk")) {
    was["pruning"]["importance_chunk"] = 0;
    was["pruning"]["memory_budget_gb"] = 8.0;
  }
  if (was.contains("tracking") && !was["tracking"].contains("sample_chunk")) was["tracking"]["sample_chunk"] = 256;
  examples::check_same_settings(to_json(config), was, saved_path,
                                {"data.data_dir", "training.progress_every", "training.stop_after", "output"});
}

explaind::TrackerOptions integration_options(const Config& c) {
  return explaind::TrackerOptions()
      .rule(explaind::parse_rule(c.rule))
      .pieces(c.pieces)
      .active_fractions(c.fractions)
      .kink_aware(c.kinks)
      .adaptive(c.adaptive)
      .extrapolate(c.extrapolate)
      .tolerance(c.tolerance)
      .max_depth(c.max_depth)
      .memory_budget(c.memory_budget_gb * 1e9);
}

explaind::TrackerOptions importance_options(const Config& c) {
  return explaind::TrackerOptions()
      .rule(explaind::parse_rule(c.importance_rule))
      .active_fractions(c.fractions)
      .kink_aware(false)
      .adaptive(false)
      .parameter_wise(true)
      .parameter_windows(false)
      .memory_budget(c.memory_budget_gb * 1e9);
}

}  // namespace pathgrad::cifar2
