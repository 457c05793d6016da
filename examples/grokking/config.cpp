// Flags, validation and JSON form of the grokking example's settings.
#include "examples/grokking/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "examples/common/cli_numbers.hpp"
#include "examples/common/require_flag.hpp"
#include "examples/common/run_session.hpp"
#include "explaind/quadrature.hpp"

namespace pathgrad::grokking {

namespace {
const std::map<std::string, TrackLevel> kLevels = {{"off", TrackLevel::Off},
                                                   {"cheap", TrackLevel::Cheap},
                                                   {"samples", TrackLevel::Samples},
                                                   {"full", TrackLevel::Full}};
using examples::require_flag;
}  // namespace

const char* track_level_name(TrackLevel level) {
  for (const auto& [name, l] : kLevels)
    if (l == level) return name.c_str();
  return "?";
}

void Config::validate() const {
  require_flag(p >= 2, "p", fmt::format("must be at least 2, got {}", p));
  require_flag(n_train >= 1, "n-train", fmt::format("must be at least 1, got {}", n_train));
  require_flag(n_val >= 1, "n-val", fmt::format("must be at least 1, got {}", n_val));
  require_flag(
      n_train + n_val <= p * (p + 1) / 2, "n-train",
      fmt::format("n-train {} + n-val {} exceed the {} unordered pairs of p = {}", n_train, n_val, p * (p + 1) / 2, p));
  for (auto [flag, v] : {std::pair{"d-model", d_model}, {"heads", heads}, {"d-head", d_head}, {"d-mlp", d_mlp}})
    require_flag(v >= 1, flag, fmt::format("must be positive, got {}", v));
  require_flag(lr > 0, "lr", fmt::format("must be positive, got {}", lr));
  require_flag(beta1 >= 0 && beta1 < 1, "beta1", fmt::format("must be in [0, 1), got {}", beta1));
  require_flag(beta2 >= 0 && beta2 < 1, "beta2", fmt::format("must be in [0, 1), got {}", beta2));
  require_flag(eps >= 0, "eps", fmt::format("must be >= 0, got {}", eps));
  require_flag(weight_decay >= 0, "weight-decay", fmt::format("must be >= 0, got {}", weight_decay));
  require_flag(steps >= 1, "steps", fmt::format("must be at least 1, got {}", steps));
  require_flag(checkpoint_every >= 1, "checkpoint-every", fmt::format("must be at least 1, got {}", checkpoint_every));
  require_flag(stop_after >= 0, "stop-after", fmt::format("must be >= 0, got {}", stop_after));
  require_flag(shards >= 0 && shards <= n_train, "shards",
               fmt::format("must be in [0, n-train = {}] (0: one shard per rank), got {}", n_train, shards));
  require_flag(progress_every >= 1, "progress-every", fmt::format("must be at least 1, got {}", progress_every));
  require_flag(val_probes >= 1, "val-probes", fmt::format("must be at least 1, got {}", val_probes));
  require_flag(
      sample_probes >= 1 && sample_probes <= std::min(val_probes, n_val), "sample-probes",
      fmt::format("must be in [1, min(val-probes, n-val) = {}], got {}", std::min(val_probes, n_val), sample_probes));
  require_flag(train_probes >= 0 && train_probes <= n_train, "train-probes",
               fmt::format("must be in [0, n-train = {}], got {}", n_train, train_probes));
  require_flag(
      output_probes >= 0 && output_probes <= std::min(val_probes, n_val), "output-probes",
      fmt::format("must be in [0, min(val-probes, n-val) = {}], got {}", std::min(val_probes, n_val), output_probes));
  require_flag(tolerance > 0, "tolerance", fmt::format("must be positive, got {}", tolerance));
  require_flag(max_depth >= 0 && max_depth <= 20, "max-depth", fmt::format("must be in [0, 20], got {}", max_depth));
  try {
    explaind::parse_rule(rule);
  } catch (const std::invalid_argument& e) {
    require_flag(false, "rule", e.what());
  }
  for (size_t i = 0; i < window_edges.size(); ++i)
    require_flag(window_edges[i] > (i ? window_edges[i - 1] : 0), "window-edges",
                 fmt::format("edges must be positive and increasing, got {} after {}", window_edges[i],
                             i ? window_edges[i - 1] : 0));
  require_flag(threads >= 1, "threads", fmt::format("must be at least 1, got {}", threads));
  require_flag(!out.empty(), "out", "must not be empty");
}

void add_flags(CLI::App& app, Config& c) {
  app.option_defaults()->always_capture_default();
  examples::number_option(app, "--p", c.p, "Modulus p: inputs [a, +, b, =] over p + 2 tokens, target (a + b) mod p")
      ->group("Data");
  examples::number_option(app, "--n-train", c.n_train, "Training pairs (full batch), drawn after the validation pairs")
      ->group("Data");
  examples::number_option(app, "--n-val", c.n_val, "Validation pairs (unordered pairs a >= b, drawn first)")
      ->group("Data");
  examples::number_option(app, "--split-seed", c.split_seed, "Seed of the train/validation split")->group("Data");

  examples::number_option(app, "--d-model", c.d_model, "Embedding width")->group("Model");
  examples::number_option(app, "--heads", c.heads, "Attention heads (each one shared q/k/v projection)")
      ->group("Model");
  examples::number_option(app, "--d-head", c.d_head, "Width of one head")->group("Model");
  examples::number_option(app, "--d-mlp", c.d_mlp, "Hidden width of the MLP")->group("Model");
  examples::number_option(app, "--seed", c.seed, "Seed of the initial weights")->group("Model");

  examples::number_option(app, "--lr", c.lr, "AdamW learning rate (constant)")->group("Optimizer");
  examples::number_option(app, "--beta1", c.beta1, "AdamW beta1")->group("Optimizer");
  examples::number_option(app, "--beta2", c.beta2, "AdamW beta2")->group("Optimizer");
  examples::number_option(app, "--eps", c.eps, "AdamW epsilon")->group("Optimizer");
  examples::number_option(app, "--weight-decay", c.weight_decay, "AdamW decoupled weight decay")->group("Optimizer");

  examples::number_option(app, "--steps", c.steps,
                          "Maximum training steps (stops early once train and validation accuracy are 100 %)")
      ->group("Training");
  examples::number_option(app, "--checkpoint-every", c.checkpoint_every,
                          "Steps between interval weights (used by the swap experiment) and resume checkpoints")
      ->group("Training");
  examples::number_option(app, "--progress-every", c.progress_every, "Steps between progress lines")->group("Training");
  examples::number_option(
      app, "--stop-after", c.stop_after,
      "Pause after this step as on Ctrl-C: write a checkpoint and exit, to continue later with --resume "
      "(0: run to the end)")
      ->group("Training");
  examples::number_option(
      app, "--shards", c.shards,
      "Shards of every batch for data-parallel training under mpirun: each rank computes its share of them; "
      "runs with the same --shards are bit-identical for 1 to --shards ranks (0: one shard per rank)")
      ->group("Training");

  app.add_option_function<std::string>(
         "--track", [&c](const std::string& name) { c.track = kLevels.at(name); },
         "Tracker level: off; cheap (replica, step and component influence, similarity matrices of the sample-level "
         "probes); samples (+ their data influence: per-sample gradients of the whole training set every step); "
         "full (+ sample x component)")
      ->check(CLI::IsMember(std::vector<std::string>{"off", "cheap", "samples", "full"}))
      ->default_str(track_level_name(c.track))
      ->group("Tracking");
  app.add_option("--rule", c.rule,
                 "Quadrature rule of the path integral: midpoint:N, trapezoid, simpson, gauss_legendre:N, "
                 "gauss_lobatto:N (refined adaptively at kinks)")
      ->group("Tracking");
  examples::number_option(app, "--tolerance", c.tolerance,
                          "Per-step residual tolerance of the adaptive refinement (absolute)")
      ->group("Tracking");
  examples::number_option(
      app, "--max-depth", c.max_depth,
      "Halvings of a probe input's pieces at most per step (the refinement stops there even above --tolerance)")
      ->group("Tracking");
  examples::number_option(app, "--val-probes", c.val_probes,
                          "Validation pairs probed on the label's log-probability (cheap level)")
      ->group("Tracking");
  examples::number_option(
      app, "--sample-probes", c.sample_probes,
      "Of the validation probes, how many are sample-level (similarity matrices; data influence at --track samples)")
      ->group("Tracking");
  examples::number_option(app, "--train-probes", c.train_probes, "Training pairs probed on the label's log-probability")
      ->group("Tracking");
  examples::number_option(
      app, "--output-probes", c.output_probes,
      "Of the validation probes, how many are also tracked on all p outputs: the replica's argmax agreement and "
      "KL divergence to the model (each costs about p label probes)")
      ->group("Tracking");
  examples::number_option(app, "--probe-seed", c.probe_seed, "Seed choosing which pairs become probes")
      ->group("Tracking");
  examples::number_option(app, "--window-edges", c.window_edges,
                          "Steps where the tracker's windows start: windows [0, e1), [e1, e2), ..., [e_last, end)")
      ->delimiter(',')
      ->group("Tracking");
  app.add_flag("--float32-buffers", c.float32_buffers, "Keep the per-sample buffers in float32 (half the memory)")
      ->group("Tracking");

  // The last --out wins, so that scripts/grokking.sh (which passes --out runs/grokking) takes another.
  app.add_option("--out", c.out, "Run directory (created; holds every output)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->group("Output");
  app.add_flag("--resume", c.resume, "Continue the run in --out from its last checkpoint")->group("Output");
  app.add_flag("--report,!--no-report", c.report, "Write the analyses, plots and report after training")
      ->group("Output");
  examples::number_option(app, "--threads", c.threads, "Threads (OpenBLAS and pathgrad's own loops)")->group("Output");
}

nlohmann::json to_json(const Config& c) {
  return {{"data", {{"p", c.p}, {"n_train", c.n_train}, {"n_val", c.n_val}, {"split_seed", c.split_seed}}},
          {"model",
           {{"d_model", c.d_model}, {"heads", c.heads}, {"d_head", c.d_head}, {"d_mlp", c.d_mlp}, {"seed", c.seed}}},
          {"optimizer",
           {{"name", "AdamW"},
            {"lr", c.lr},
            {"beta1", c.beta1},
            {"beta2", c.beta2},
            {"eps", c.eps},
            {"weight_decay", c.weight_decay}}},
          {"training",
           {{"steps", c.steps},
            {"checkpoint_every", c.checkpoint_every},
            {"progress_every", c.progress_every},
            {"stop_after", c.stop_after},
            {"shards", c.shards}}},
          {"tracking",
           {{"track", track_level_name(c.track)},
            {"rule", c.rule},
            {"tolerance", c.tolerance},
            {"max_depth", c.max_depth},
            {"val_probes", c.val_probes},
            {"sample_probes", c.sample_probes},
            {"train_probes", c.train_probes},
            {"output_probes", c.output_probes},
            {"probe_seed", c.probe_seed},
            {"window_edges", c.window_edges},
            {"float32_buffers", c.float32_buffers}}},
          {"output", {{"out", c.out}, {"report", c.report}, {"threads", c.threads}}}};
}

void check_resumable(const Config& config, const nlohmann::json& saved, const std::string& saved_path) {
  // Settings that do not change the trajectory or the tracker's accounting may differ. Runs from
  // before --shards existed trained on the plain gradient: one shard.
  nlohmann::json was = saved;
  if (was.contains("training") && !was["training"].contains("shards")) was["training"]["shards"] = 1;
  examples::check_same_settings(to_json(config), was, saved_path,
                                {"training.steps", "training.progress_every", "training.stop_after", "output"});
}

}  // namespace pathgrad::grokking
