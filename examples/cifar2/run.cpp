// The CIFAR-2 run: builds everything from the config, trains (resuming when asked), finishes the
// tracker and writes the report.
#include "examples/cifar2/run.hpp"

#include <fmt/format.h>

#include <chrono>
#include <memory>

#include "examples/cifar2/data.hpp"
#include "examples/cifar2/probes.hpp"
#include "examples/cifar2/report.hpp"
#include "examples/cifar2/step_timing.hpp"
#include "examples/common/run_session.hpp"
#include "explaind/tracker.hpp"
#include "nn/data/random_flip.hpp"
#include "nn/init.hpp"
#include "nn/loss.hpp"
#include "nn/serialize.hpp"
#include "optim/schedule.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::cifar2 {

namespace {

// The models of a run. Everything that draws from the default generator is built here, before a
// checkpoint restores it, so that a resumed run continues the same random stream.
struct Models {
  std::unique_ptr<ResNet9> model, probe_model;  // probe_model: float64, for the trackers
};
Models make_models(const Config& config) {
  nn::manual_seed(config.seed);
  Models m{std::make_unique<ResNet9>(config.width), nullptr};
  if (config.tracking() || config.pruning()) {
    m.probe_model = std::make_unique<ResNet9>(config.width);  // its weights are the tracker's to set
    m.probe_model->to(DType::Float64);
  }
  return m;
}

explaind::LossFn per_sample_nll() {
  return [](const Tensor& out, const Tensor& y) { return nn::nll_loss(out, y, nn::Reduction::None); };
}

// The trackers of a run: the main one (replica, step-wise, per-layer and, at the samples level,
// data influence of the probes) and, for the pruning experiment, the importance images' one.
struct Trackers {
  std::unique_ptr<explaind::Tracker> main, importance;
  std::vector<optim::CheckpointPart> parts;  // saved in every resume checkpoint
};

Trackers make_trackers(const Config& config, const RunDir& dir, Trainee& t, ResNet9& probe_model,
                       const explaind::ProbeSet& probes, const data::ImageSet& test, bool resuming) {
  auto options = [&](explaind::TrackerOptions o, const std::string& part, const std::string& out) {
    return o.window(t.loader.batches_per_epoch())  // one window per epoch
        .probe_model(&probe_model)
        .resume_from(resuming ? optim::checkpoint_part_dir(dir.checkpoint(), part) : std::string())
        .output_dir(out);
  };
  Trackers k;
  if (config.tracking()) {
    const explaind::TrackerOptions main =
      integration_options(config)
            .per_sample(config.sample_level())
            .buffer_dtype(config.buffers == "float32" ? DType::Float32 : DType::Float64);
    k.main = std::make_unique<explaind::Tracker>(
        t.model, t.optimizer, t.loader, per_sample_nll(),
        tracker_probe_sets(probes, config.sample_level() ? config.sample_probes : 0),
        options(main, "tracker", dir.explaind()));
    k.parts.push_back(k.main->checkpoint_part("tracker"));
  }
  if (config.pruning()) {
    k.importance = std::make_unique<explaind::Tracker>(
        t.model, t.optimizer, t.loader, per_sample_nll(),
        std::vector<explaind::ProbeSet>{importance_probe_set(test, config.importance_images)},
        options(importance_options(config), "importance", dir.importance()));
    k.parts.push_back(k.importance->checkpoint_part("importance"));
  }
  return k;
}

void print_plan(const Config& config, const data::ImageSplits& data, const Trainee& t, int64_t parameters) {
  fmt::print("cifar2: ResNet-9 width {} ({} parameters), {} training images ({} steps per epoch x {} epochs, batch {}), "
             "{} test images; SGD lr {} (triangle, peak at epoch {}), momentum {}, weight decay {}; tracker {}",
             config.width, parameters, data.train.size(), t.loader.batches_per_epoch(), config.epochs, config.batch_size,
             data.test.size(), config.lr, config.peak_epoch, config.momentum, config.weight_decay,
             track_level_name(config.track));
  if (config.tracking())
    fmt::print(" ({} probe images; rule {} on {} piece(s), active fractions {}, kinks {}, adaptive {}, extrapolate {}, "
               "tolerance {}, max depth {})",
               config.probes, config.rule, config.pieces, config.fractions ? "on" : "off", config.kinks ? "on" : "off",
               config.adaptive ? "on" : "off", config.extrapolate ? "on" : "off", config.tolerance, config.max_depth);
  fmt::print("\n");
}

}  // namespace

RunResult run(const Config& config, const std::string& command_line) {
  const auto start = std::chrono::steady_clock::now();
  const RunDir dir{config.out};
  const bool resuming = examples::open_run_dir(config, dir);
  const data::ImageSplits data = load_data(config);
  examples::record_session(dir, to_json(config), command_line);

  Models models = make_models(config);
  ResNet9& model = *models.model;
  if (!resuming) nn::save_weights(model, dir.weights(0));
  optim::SGD optimizer(model.named_parameters(), optim::SGDOptions(config.lr)
                                                     .momentum(config.momentum)
                                                     .weight_decay(config.weight_decay));
  const data::TensorDataset train_set = data.train.dataset();
  const data::RandomHorizontalFlip flipped(train_set, config.seed + 1);
  data::DataLoader loader(flipped,
                          data::DataLoaderOptions(config.batch_size).shuffle(true).seed(config.seed).drop_last(true));
  optimizer.set_schedule(optim::triangle_lr(loader.batches_per_epoch(), config.epochs, config.peak_epoch));
  Trainee trainee{model, optimizer, loader, data.test};
  const explaind::ProbeSet probes = make_probe_set(data.test, config.probes);

  TrainingOutcome resumed;
  if (resuming) {
    resumed = examples::parse_checkpoint_extra(
        dir, optim::load_checkpoint(dir.checkpoint(), model, optimizer, loader), outcome_from_json);
    fmt::print("resuming {} at step {}\n", config.out, optimizer.steps_taken());
  }
  print_plan(config, data, trainee, model.num_parameters());
  const int64_t steps = total_steps(config, loader);
  const StepTiming timing = measure_step_timing(
      model, optimizer, kernel::narrow(data.train.images, 0, 0, config.batch_size),
      kernel::narrow(data.train.labels, 0, 0, config.batch_size), models.probe_model.get(), probes.x);
  Trackers trackers;
  if (models.probe_model)
    trackers = make_trackers(config, dir, trainee, *models.probe_model, probes, data.test,
                             resuming && optimizer.steps_taken() > 0);
  for (const auto* t : {trackers.main.get(), trackers.importance.get()})
    if (t) fmt::print("{}", t->cost_report());
  fmt::print("{}", describe(timing, trackers.main ? &trackers.main->cost() : nullptr,
                            trackers.importance ? &trackers.importance->cost() : nullptr,
                            steps - optimizer.steps_taken()));
  std::fflush(stdout);

  RunResult result;
  result.training = train(trainee, config, dir, std::move(resumed), trackers.parts);
  const TrainingOutcome& t = result.training;
  t.metrics.write_csv(dir.metrics_csv(), dir.epochs_csv());
  if (t.interrupted) {
    fmt::print("paused after step {}: run the same command with --resume to continue\n", t.steps);
    return result;
  }
  nn::save_weights(model, dir.final_weights());
  fmt::print("trained {} steps in {:.0f} s: test accuracy {:.1f} %\n", t.steps, t.seconds, 100 * t.metrics.test_acc.back());
  if (trackers.main) {
    result.summary = trackers.main->finish();
    fmt::print("replica: max |error| {:.3g} (mean change {:.3g}), marginal mismatch {:.3g}\n",
               result.summary->replica_max_abs_error, result.summary->change_scale, result.summary->marginal_mismatch);
  }
  if (trackers.importance) {
    result.importance = trackers.importance->finish();
    fmt::print("importance tracker: {} images, replica max |error| {:.3g} (mean change {:.3g})\n",
               config.importance_images, result.importance->replica_max_abs_error, result.importance->change_scale);
  }
  if (config.report)
    write_report(ReportInputs{config, command_line, dir, probes, data, t, result.summary, result.importance,
                              trackers.main ? trackers.main->cost_report() : std::string(), timing, start, model});
  return result;
}

}  // namespace pathgrad::cifar2
