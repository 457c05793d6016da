// The CIFAR-2 report: analyses, plots, CSV tables and report.html / report.md.
#include "examples/cifar2/report.hpp"

#include <fmt/format.h>

#include "examples/cifar2/figures.hpp"
#include "examples/cifar2/influence_report.hpp"
#include "examples/cifar2/probes.hpp"
#include "examples/cifar2/pruning_report.hpp"
#include "examples/common/component_influence.hpp"
#include "examples/common/replica_figures.hpp"
#include "examples/common/replica_summary.hpp"
#include "examples/common/timings.hpp"
#include "explaind/report/csv.hpp"

namespace pathgrad::cifar2 {

namespace {

using Clock = std::chrono::steady_clock;
using examples::add_figures;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string training_story(const ReportInputs& in) {
  const Metrics& m = in.training.metrics;
  return fmt::format(
      "{} steps ({} epochs of {} full batches) in {:.0f} s. Test accuracy: {:.1f} % at initialisation, {:.1f} % at "
      "the end (test loss {:.3f}).",
      in.training.steps, m.epoch.empty() ? 0 : static_cast<int64_t>(m.epoch.back()),
      in.config.epochs > 0 ? in.training.steps / in.config.epochs : 0, in.training.seconds, 100 * m.test_acc.front(),
      100 * m.test_acc.back(), m.test_loss.back());
}

// One row per probe scalar: which image and class, model, replica and their difference.
void write_replica_csv(const RunDir& dir, const explaind::ProbeSet& probes, const examples::ReplicaCheck& check) {
  explaind::report::CsvTable t({"probe", "label", "class", "model", "replica", "error"});
  for (size_t m = 0; m < check.real.size(); ++m) {
    const int64_t i = static_cast<int64_t>(m / 2);
    t.add_row({probes.ids[static_cast<size_t>(i)], static_cast<int64_t>(probes.y.at({i})), static_cast<int64_t>(m % 2),
               check.real[m], check.replica[m], check.replica[m] - check.real[m]});
  }
  t.write(dir.analysis_csv("replica"));
}

void replica_section(explaind::report::Report& r, const ReportInputs& in, const examples::TrackerExports& exports,
                     const explaind::Summary& s) {
  r.section("Replica check");
  examples::add_replica_summary(r, s, "mean |log p(class)|", "see the per-probe table analyses/replica.csv");
  const examples::ReplicaCheck check = examples::replica_check(exports);
  write_replica_csv(in.dir, in.probes, check);
  const ClassRows rows = class_rows(in.probes);
  const std::vector<double> own = check.mean_influence(rows.true_class), other = check.mean_influence(rows.other_class);
  explaind::report::CsvTable::from_columns({{"step", check.steps},
                                            {"residual_max", check.residual_max},
                                            {"residual_mean", check.residual_mean},
                                            {"influence_own_class", own},
                                            {"influence_other_class", other}})
      .write(in.dir.analysis_csv("per_step"));
  add_figures(r, examples::plot_replica_fit(in.dir, check, "model: log p(class | probe image)"));
  r.section("Step-wise influence");
  r.paragraph(
      "What each SGD step did to the probes' log-probabilities, mean over the probe images: of their own "
      "class and of the other class. Numbers: analyses/per_step.csv.");
  const double peak = static_cast<double>(in.config.peak_epoch * in.training.steps / in.config.epochs);
  add_figures(r, examples::plot_step_influence(
                     in.dir, check.steps, {{"own class", own}, {"other class", other}},
                     {{peak, fmt::format("lr peak, step {:.0f}", peak)}},
                     {"change of log p(class)", "change of log p(class) since step 0",
                      "How much each step changed the probes' log-probability of their own class and of the other "
                      "class, mean over the probe images (symmetric log scale).",
                      "The step-wise influence summed up to each step: how the kernel machine's mean log-probability "
                      "of each probe's own class (and of the other) moved since initialisation."}));
  r.subsection("Tracker cost").code(in.cost_report);
}

void write_component_csv(const RunDir& dir, const examples::ComponentInfluence& ci,
                         const std::vector<std::string>& layers) {
  explaind::report::CsvTable t({"layer", "component", "window_begin", "window_end", "data", "weight_decay"});
  for (size_t c = 0; c < layers.size(); ++c) {
    for (size_t w = 0; w < ci.windows.size(); ++w)
      t.add_row({layers[c], ci.components[c], ci.windows[w].begin, ci.windows[w].end, ci.data[c][w], ci.decay[c][w]});
    t.add_row({layers[c], ci.components[c], int64_t{0}, ci.windows.empty() ? int64_t{0} : ci.windows.back().end,
               ci.data_total[c], ci.decay_total[c]});
  }
  t.write(dir.analysis_csv("components"));
}

void layer_section(explaind::report::Report& r, const ReportInputs& in, const examples::TrackerExports& exports) {
  r.section("Layer influence");
  r.paragraph(
      "How much each layer's parameters moved the probes' log-probability of their own class, epoch by "
      "epoch (one tracker window per epoch); the data part comes from the training batches' gradients, the "
      "weight-decay part from SGD's coupled decay. Numbers: analyses/components.csv.");
  const std::vector<std::string> tensors = exports.parameter_names();
  std::vector<std::string> layers;
  for (const std::string& t : tensors) layers.push_back(layer_name(t));
  const examples::ComponentInfluence ci =
      examples::component_influence(exports, tensors, class_rows(in.probes).true_class);
  write_component_csv(in.dir, ci, layers);
  add_figures(r, plot_layer_influence(in.dir, ci, layers));
}

void timing_section(explaind::report::Report& r, const ReportInputs& in, examples::RunTimes& times) {
  auto rows = examples::timing_rows(times);
  rows.push_back({"one training step, measured before training", fmt::format("{:.2f} s", in.timing.training)});
  if (in.summary)
    rows.push_back({"per step, mean over the run",
                    fmt::format("{:.2f} s", in.training.seconds / static_cast<double>(in.training.steps))});
  r.section("Timings").key_values(rows);
}

}  // namespace

std::string layer_name(const std::string& parameter) {
  for (const std::string suffix : {".conv.weight", ".weight"})
    if (parameter.ends_with(suffix)) return parameter.substr(0, parameter.size() - suffix.size());
  return parameter;
}

void write_report(const ReportInputs& in) {
  const auto start = Clock::now();
  explaind::report::Report r(fmt::format("CIFAR-2: cats vs dogs, ResNet-9 of width {}", in.config.width));
  r.section("Run").code(in.command_line).paragraph(training_story(in));
  r.section("Training");
  add_figures(r, plot_training_curves(in.dir, in.training.metrics));
  r.paragraph("Per-step numbers: metrics.csv; per epoch: epochs.csv. Weights: weights/ (safetensors).");
  if (in.summary) {
    const examples::TrackerExports exports(in.dir.explaind());
    replica_section(r, in, exports, *in.summary);
    layer_section(r, in, exports);
    if (exports.has("sample_data")) data_influence_section(r, in.dir, exports, in.probes, in.data.test, in.data.train);
  }
  if (in.importance) pruning_section(r, in.dir, in.model, in.data.test, in.chunks, *in.importance);
  const double tracking =
      (in.summary ? in.summary->tracking_seconds : 0) + (in.importance ? in.importance->tracking_seconds : 0);
  examples::RunTimes times{in.training.seconds, in.summary || in.importance ? tracking : -1.0,
                           in.training.checkpoint_seconds, seconds_since(start), seconds_since(in.session_start)};
  r.section("Configuration").key_values_from_json(to_json(in.config));
  timing_section(r, in, times);
  r.write(in.dir.root);
  times.report = seconds_since(start);
  times.session = seconds_since(in.session_start);
  examples::write_timings(in.dir, times);
}

}  // namespace pathgrad::cifar2
