// The CIFAR-2 run: builds everything from the config, trains (resuming when asked), finishes the
// tracker and writes the report.
#include "examples/cifar2/run.hpp"

#include <fmt/format.h>

#include <chrono>
#include <memory>

#include "examples/cifar2/data.hpp"
#include "examples/cifar2/importance_chunks.hpp"
#include "examples/cifar2/probes.hpp"
#include "examples/cifar2/report.hpp"
#include "examples/cifar2/step_timing.hpp"
#include "examples/cifar2/training_setup.hpp"
#include "examples/common/nll_objective.hpp"
#include "examples/common/replica_summary.hpp"
#include "examples/common/run_session.hpp"
#include "explaind/tracker.hpp"
#include "nn/serialize.hpp"
#include "optim/communicator.hpp"
#include "optim/shard_plan.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::cifar2 {

namespace {

// The trackers of a run's training pass: the main one (replica, step-wise, per-layer and, at the
// samples level, data influence of the probes) and, for the pruning experiment, the importance
// images' one (chunk 0).
struct Trackers {
  std::unique_ptr<explaind::Tracker> main, importance;
  std::vector<optim::CheckpointPart> parts;  // saved in every resume checkpoint
};

Trackers make_trackers(const Config& config, const RunDir& dir, TrainingSetup& setup, const explaind::ProbeSet& probes,
                       const nn::data::ImageSet& test, const ImportanceChunks& chunks, bool resuming) {
  auto resume_dir = [&](const char* part) {
    return resuming ? optim::checkpoint_part_dir(dir.checkpoint(), part) : std::string();
  };
  Trackers k;
  if (config.tracking()) {
    const explaind::TrackerOptions main =
        integration_options(config)
            .per_sample(config.sample_level())
            .buffer_dtype(config.buffers == "float32" ? DType::Float32 : DType::Float64)
            .chunk_size(config.sample_chunk);
    k.main = std::make_unique<explaind::Tracker>(
        *setup.model, setup.optimizer, setup.loader, examples::per_sample_nll(),
        tracker_probe_sets(probes, config.sample_level() ? config.sample_probes : 0),
        setup.tracker_options(main, dir.explaind(), resume_dir("tracker")));
    k.parts.push_back(k.main->checkpoint_part("tracker"));
  }
  if (config.pruning()) {
    k.importance = make_importance_tracker(config, setup, test, chunks, 0, dir.importance(0), resume_dir("importance"));
    k.parts.push_back(k.importance->checkpoint_part("importance"));
  }
  return k;
}

// A paused session (Ctrl-C or --stop-after, a checkpoint written) of the training pass or of an
// importance chunk's rerun.
RunResult paused(RunResult result, const std::string& where) {
  result.training.interrupted = true;
  fmt::print("paused {}: run the same command with --resume to continue\n", where);
  return result;
}

void print_plan(const Config& config, const nn::data::ImageSplits& data, const Trainee& t, int64_t parameters) {
  fmt::print(
      "cifar2: ResNet-9 width {} ({} parameters), {} training images ({} steps per epoch x {} epochs, batch {}), "
      "{} test images; SGD lr {} (triangle, peak at epoch {}), momentum {}, weight decay {}; tracker {}",
      config.width, parameters, data.train.size(), t.loader.batches_per_epoch(), config.epochs, config.batch_size,
      data.test.size(), config.lr, config.peak_epoch, config.momentum, config.weight_decay,
      track_level_name(config.track));
  if (config.tracking())
    fmt::print(
        " ({} probe images; rule {} on {} piece(s), active fractions {}, kinks {}, adaptive {}, extrapolate {}, "
        "tolerance {}, max depth {})",
        config.probes, config.rule, config.pieces, config.fractions ? "on" : "off", config.kinks ? "on" : "off",
        config.adaptive ? "on" : "off", config.extrapolate ? "on" : "off", config.tolerance, config.max_depth);
  fmt::print("\n");
}

}  // namespace

RunResult run(const Config& flags, const std::string& command_line) {
  const auto start = std::chrono::steady_clock::now();
  const optim::Communicator& comm = optim::Communicator::world();
  Config config = flags;
  config.shards = flags.shards_for(comm.size());
  const RunDir dir{config.out};
  const bool resuming = examples::open_run_dir(config, dir, comm);
  // Every batch's shards must fit the ranks: checked before anything is written.
  (void)optim::ShardPlan(config.batch_size, config.shards, comm.rank(), comm.size(), "--shards");
  const nn::data::ImageSplits data = load_data(config);
  const bool root = comm.is_root();  // rank 0 alone writes (and integrates the probes)
  if (root) examples::record_session(dir, to_json(config), command_line);

  TrainingSetup setup(config, data);
  ResNet9& model = *setup.model;
  if (!resuming && root) nn::save_weights(model, dir.weights(0));
  const explaind::ProbeSet probes = make_probe_set(data.test, config.probes);
  TrainingOutcome resumed;
  if (resuming) {
    resumed = examples::parse_checkpoint_extra(
        dir.checkpoint(), optim::load_checkpoint(dir.checkpoint(), model, setup.optimizer, setup.loader),
        outcome_from_json);
    fmt::print("resuming {} at step {}\n", config.out, setup.optimizer.steps_taken());
  }
  print_plan(config, data, setup.trainee, model.num_parameters());
  const int64_t steps = total_steps(config, setup.loader);
  const StepTiming timing = measure_step_timing(
      model, setup.optimizer, kernel::narrow(data.train.images, 0, 0, config.batch_size),
      kernel::narrow(data.train.labels, 0, 0, config.batch_size), setup.probe_model.get(), probes.x);
  const ImportanceChunks chunks =
      config.pruning() ? plan_importance_chunks(config, setup, data.test) : ImportanceChunks{};
  Trackers trackers;
  if (setup.probe_model)  // on every rank: rank 0 tracks, the others hold their share of the sample level
    trackers =
        make_trackers(config, dir, setup, probes, data.test, chunks, resuming && setup.optimizer.steps_taken() > 0);
  for (const auto* t : {trackers.main.get(), trackers.importance.get()})
    if (t) fmt::print("{}", t->cost_report());
  fmt::print("{}", describe(timing, trackers.main ? &trackers.main->cost() : nullptr,
                            trackers.importance ? &trackers.importance->cost() : nullptr,
                            steps - setup.optimizer.steps_taken(), steps, chunks.count()));
  std::fflush(stdout);

  RunResult result;
  result.training =
      train(setup.trainee, config, dir, TrainingFiles{dir.checkpoint(), true}, std::move(resumed), trackers.parts);
  TrainingOutcome& t = result.training;
  if (root) t.metrics.write_csv(dir.metrics_csv(), dir.epochs_csv());
  if (t.interrupted) return paused(result, fmt::format("after step {}", t.steps));
  if (root) nn::save_weights(model, dir.final_weights());
  fmt::print("trained {} steps in {:.0f} s: test accuracy {:.1f} %\n", t.steps, t.seconds,
             100 * t.metrics.test_acc.back());
  if (trackers.main) {
    result.summary = trackers.main->finish();
    fmt::print("replica: max |error| {:.3g} (mean change {:.3g}), marginal mismatch {:.3g}\n",
               result.summary->replica_max_abs_error, result.summary->change_scale, result.summary->marginal_mismatch);
    fmt::print("{}", examples::memory_line(*result.summary, trackers.main->cost()));
  }
  if (config.pruning()) {  // every rank retraces the training for the further chunks
    std::vector<explaind::Summary> parts;
    if (root) parts.push_back(trackers.importance->finish());
    const auto more = track_remaining_chunks(config, dir, data, chunks);
    if (!more) return paused(result, "in an importance chunk's rerun");
    if (!root) return result;
    parts.insert(parts.end(), more->begin(), more->end());
    result.importance = merge_summaries(parts, chunks);
    fmt::print("importance tracker: {} images in {} chunk(s), replica max |error| {:.3g} (mean change {:.3g})\n",
               config.importance_images, chunks.count(), result.importance->replica_max_abs_error,
               result.importance->change_scale);
  }
  if (config.report && root)
    write_report(ReportInputs{config, command_line, dir, probes, data, t, result.summary, result.importance, chunks,
                              trackers.main ? trackers.main->cost_report() : std::string(), timing, start, model});
  return result;
}

}  // namespace pathgrad::cifar2
