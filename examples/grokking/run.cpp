// The grokking run: builds everything from the config, trains (resuming when asked), finishes
// the tracker and writes the report.
#include "examples/grokking/run.hpp"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "examples/grokking/probes.hpp"
#include "examples/grokking/report.hpp"
#include "explaind/quadrature.hpp"
#include "explaind/tracker.hpp"
#include "nn/init.hpp"
#include "nn/loss.hpp"
#include "nn/serialize.hpp"
#include "optim/checkpoint.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/json_file.hpp"
#include "tensor/parallel.hpp"

namespace pathgrad::grokking {

namespace fs = std::filesystem;

namespace {

// Checks that the run directory fits --resume: a checkpoint and the same settings with it, and
// no earlier run without it.
void prepare_run_dir(const Config& config, const RunDir& dir) {
  if (!config.resume) {
    if (fs::exists(dir.config()) || fs::exists(dir.checkpoint()))
      throw std::invalid_argument(fmt::format(
          "--out {} already holds a run: pass --resume to continue it, or choose another --out", config.out));
    return;
  }
  if (!fs::exists(dir.config()))
    throw std::invalid_argument(fmt::format("--resume: {} does not exist: --out names no run", dir.config()));
  check_resumable(config, read_json_file(dir.config()), dir.config());
  if (!optim::checkpoint_exists(dir.checkpoint()))
    throw std::invalid_argument(fmt::format("--resume: {} holds no checkpoint to resume from", dir.checkpoint()));
  // A finished tracker has closed its streamed exports: only a paused tracked run continues.
  if (config.tracking() && fs::exists(dir.final_weights()))
    throw std::invalid_argument(fmt::format(
        "--resume: the tracked run in {} has finished and written its exports; only a paused run (Ctrl-C or "
        "--stop-after) can be resumed. Start a new run with more --steps",
        config.out));
}

explaind::TrackerOptions tracker_options(const Config& config, const RunDir& dir, nn::Module& probe_model) {
  return explaind::TrackerOptions()
      .parameter_wise(true)  // similarity matrices of the sample-level probes, at every level
      .per_sample(config.sample_level())
      .combinations(config.track == TrackLevel::Full)
      .rule(explaind::parse_rule(config.rule))
      .tolerance(config.tolerance)
      .max_depth(config.max_depth)
      .window_edges(config.window_edges)
      .components(head_components(config.model_shape()))
      .buffer_dtype(config.float32_buffers ? DType::Float32 : DType::Float64)
      .probe_model(&probe_model)
      // Training runs in float32: the optimizer's gradient and the float64 recomputation of the
      // per-sample gradients agree to float32 rounding, not to float64's.
      .check_tolerance(1e-3)
      .resume_from(config.resume ? dir.tracker_state() : std::string())
      .output_dir(dir.explaind());
}

}  // namespace

RunResult run(const Config& config, const std::string& command_line) {
  const auto start = std::chrono::steady_clock::now();
  config.validate();
  set_num_threads(config.threads);
  const RunDir dir{config.out};
  prepare_run_dir(config, dir);
  fs::create_directories(dir.weights_dir());
  write_file_atomically(dir.config(), to_json(config).dump(2) + "\n");
  const std::string earlier_commands = fs::exists(dir.command()) ? read_file(dir.command()) : std::string();
  write_file_atomically(dir.command(), earlier_commands + command_line + "\n");

  const data::ModularData data = make_data(config);
  data.save_csv(dir.split_csv());
  nn::manual_seed(config.seed);
  Transformer model(config.model_shape());
  if (!config.resume) nn::save_weights(model, dir.weights(0));
  optim::AdamW optimizer(model.named_parameters(), optim::AdamWOptions(config.lr)
                                                       .betas(config.beta1, config.beta2)
                                                       .eps(config.eps)
                                                       .weight_decay(config.weight_decay));
  const data::TensorDataset train_set = data.train.dataset();
  data::DataLoader loader(train_set, data::DataLoaderOptions(data.train.size()));

  TrainingOutcome resumed;
  if (config.resume) {
    resumed = outcome_from_json(optim::load_checkpoint(dir.checkpoint(), model, optimizer, loader));
    fmt::print("resuming {} at step {}\n", config.out, optimizer.steps_taken());
  }
  const ProbeChoice probes = choose_probes(data, config);
  std::unique_ptr<Transformer> probe_model;
  std::unique_ptr<explaind::Tracker> tracker;
  if (config.tracking()) {
    probe_model = std::make_unique<Transformer>(config.model_shape());
    probe_model->to(DType::Float64);
    tracker = std::make_unique<explaind::Tracker>(
        model, optimizer, loader, [](const Tensor& out, const Tensor& y) { return nn::nll_loss(out, y, nn::Reduction::None); },
        make_probe_sets(data, probes), tracker_options(config, dir, *probe_model));
    fmt::print("{}", tracker->cost_report());
  }
  RunResult result;
  result.training = train(model, optimizer, loader, data, config, dir, std::move(resumed), [&] {
    if (tracker) tracker->save_state(dir.tracker_state());
  });
  const TrainingOutcome& t = result.training;
  t.metrics.write_csv(dir.metrics_csv());
  if (t.interrupted) {
    fmt::print("paused after step {}: run the same command with --resume to continue\n", t.steps);
    return result;
  }
  nn::save_weights(model, dir.final_weights());
  fmt::print("{} after {} steps ({:.0f} s)\n", t.converged ? "train and validation accuracy reached 100 %" : "stopped",
             t.steps, t.seconds);
  if (tracker) {
    result.summary = tracker->finish();
    fmt::print("replica: max |error| {:.3g} (output scale {:.3g}), marginal mismatch {:.3g}\n",
               result.summary->replica_max_abs_error, result.summary->output_scale, result.summary->marginal_mismatch);
  }
  if (config.report)
    write_report(ReportInputs{config, command_line, dir, data, probes, t, result.summary,
                              tracker ? tracker->cost_report() : std::string(), start});
  return result;
}

}  // namespace pathgrad::grokking
