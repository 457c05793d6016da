// The grokking report: analyses, plots, CSV tables and report.html / report.md.
#include "examples/grokking/report.hpp"

#include <fmt/format.h>

#include <chrono>

#include "examples/common/replica_summary.hpp"
#include "examples/common/timings.hpp"
#include "examples/grokking/figures.hpp"
#include "examples/grokking/influence.hpp"
#include "examples/grokking/replica_check.hpp"
#include "examples/grokking/swap.hpp"
#include "explaind/report/csv.hpp"
#include "explaind/report/report.hpp"

namespace pathgrad::grokking {

namespace {

using Clock = std::chrono::steady_clock;
using examples::add_figures;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string step_or_never(const std::optional<int64_t>& s) { return s ? std::to_string(*s) : "not reached"; }

std::string training_story(const ReportInputs& in) {
  const Metrics& m = in.training.metrics;
  const auto mem = m.memorisation_step(), gen = m.generalisation_step();
  std::string s = fmt::format(
      "{} steps in {:.0f} s ({}). Memorisation (training accuracy first >= 99 %): step {}. Generalisation "
      "(validation accuracy first >= 99 %): step {}.",
      in.training.steps, in.training.seconds,
      in.training.converged ? "stopped at 100 % training and validation accuracy" : "stopped at --steps",
      step_or_never(mem), step_or_never(gen));
  if (mem && gen && *gen > *mem)
    s += fmt::format(" Validation accuracy rose {} steps after the training set was memorised: grokking.", *gen - *mem);
  return s;
}

void write_component_csv(const RunDir& dir, const ComponentInfluence& ci, const std::string& name) {
  explaind::report::CsvTable t({"component", "window_begin", "window_end", "data", "weight_decay"});
  for (size_t c = 0; c < ci.components.size(); ++c) {
    for (size_t w = 0; w < ci.windows.size(); ++w)
      t.add_row({ci.components[c], ci.windows[w].begin, ci.windows[w].end, ci.data[c][w], ci.decay[c][w]});
    t.add_row({ci.components[c], int64_t{0}, ci.windows.empty() ? int64_t{0} : ci.windows.back().end, ci.data_total[c],
               ci.decay_total[c]});
  }
  t.write(dir.analysis_csv(name));
}

void tracked_sections(explaind::report::Report& r, const ReportInputs& in, const explaind::Summary& s) {
  const TrackerExports exports(in.dir.explaind());
  const std::vector<int64_t> val_rows = exports.rows_of_sets({kSampleLevelSet, kValidationSet});
  const std::vector<int64_t> train_rows = exports.rows_of_sets({kTrainSet});
  const Metrics& m = in.training.metrics;

  r.section("Replica check");
  examples::add_replica_summary(r, s, "mean |log p(label)|", "not tracked (--output-probes N)");
  const ReplicaCheck check = replica_check(exports, val_rows, train_rows);
  explaind::report::CsvTable::from_columns({{"step", check.steps},
                                            {"residual_max", check.residual_max},
                                            {"residual_mean", check.residual_mean},
                                            {"val_influence", check.val_influence}})
      .write(in.dir.analysis_csv("per_step"));
  add_figures(r, plot_replica_check(in.dir, check, m));
  r.subsection("Tracker cost").code(in.cost_report);

  r.section("Component influence");
  r.paragraph(
      "How much each part of the model moved the validation probes' log-probability of the correct answer, "
      "window by window; the data part comes from the training samples' gradients, the weight-decay part from "
      "AdamW's decay. Numbers: analyses/components.csv and analyses/heads.csv.");
  const ComponentInfluence layers = component_influence(exports, layer_components(), val_rows);
  write_component_csv(in.dir, layers, "components");
  add_figures(r, plot_component_influence(in.dir, layers, "layers", "layer"));
  const ComponentInfluence heads = component_influence(exports, head_component_names(in.config.heads), val_rows);
  write_component_csv(in.dir, heads, "heads");
  add_figures(r, plot_component_influence(in.dir, heads, "heads", "attention head"));

  const SumOrder order = sum_order(exports, in.data);
  r.section("Similarity of explanations");
  r.paragraph(fmt::format(
      "For each layer: the cosine similarity between the {} sample-level validation probes' parameter-influence "
      "vectors (the data part of sum_s phi_s * delta_s, restricted to the layer), rows and columns sorted by "
      "a + b. Bands and blocks show probes that the layer treats alike; red = same direction, blue = opposite, "
      "grey = no influence in that window.",
      order.probe_order.size()));
  const std::vector<Similarity> sims = similarities(exports, layer_components(), order);
  const std::vector<FigureRef> figs = plot_similarities(in.dir, sims, order);
  for (size_t i = 0; i < sims.size(); ++i) {
    if (i == 0 || sims[i].component != sims[i - 1].component) r.subsection(sims[i].component);
    r.figure(figs[i].path, figs[i].caption);
  }

  if (!in.config.sample_level()) {
    r.section("Data influence");
    r.paragraph(fmt::format(
        "Not computed at tracker level '{}': the probe x training-sample influence needs --track samples, which "
        "takes every training sample's gradient at every step (docs/grokking.md gives the command and its cost).",
        track_level_name(in.config.track)));
    return;
  }
  r.section("Data influence");
  r.paragraph(
      "Which training samples moved which validation probes: the kernel machine's term of each training sample "
      "(its gradients, preconditioned and carried by AdamW's momentum, against the probe's path-integrated "
      "gradient), per window. Rows: sample-level validation probes, columns: all training samples, both sorted by "
      "a + b. The arrays are explaind/sample_window_data.npy and explaind/sample_data.npy.");
  add_figures(r, plot_data_influences(in.dir, data_influences(exports, order), order));
}

}  // namespace

void write_report(const ReportInputs& in) {
  const auto start = Clock::now();
  const Config& c = in.config;
  const Metrics& m = in.training.metrics;
  explaind::report::Report r(fmt::format("Grokking: modular addition, p = {}", c.p));

  r.section("Run").code(in.command_line).paragraph(training_story(in));

  r.section("Training");
  add_figures(r, plot_training_curves(in.dir, m));
  r.paragraph("Per-step numbers: metrics.csv. Data split: split.csv. Weights: weights/ (safetensors).");

  if (in.summary) tracked_sections(r, in, *in.summary);

  r.section("Swap experiment");
  r.paragraph(
      "Models assembled from two points of training: embedding, second MLP layer and decoder from the final "
      "model, attention and first MLP layer from step i (the interval weights in weights/). Once the swapped "
      "model matches the final one, the inner layers of step i already compute what the final outer layers "
      "read. Numbers: analyses/swap.csv.");
  const SwapResult swap = swap_experiment(c, in.dir, in.data, in.training.steps);
  explaind::report::CsvTable::from_columns({{"step", swap.step},
                                            {"swapped_accuracy", swap.accuracy},
                                            {"own_accuracy", swap.own_accuracy},
                                            {"kl_final_to_swapped", swap.kl}})
      .write(in.dir.analysis_csv("swap"));
  add_figures(r, plot_swap(in.dir, swap, m));

  const double analysis_seconds = seconds_since(start);
  r.section("Configuration").key_values_from_json(to_json(c));
  examples::RunTimes times{in.training.seconds, in.summary ? in.summary->tracking_seconds : -1.0,
                           in.training.checkpoint_seconds, analysis_seconds, seconds_since(in.session_start)};
  r.section("Timings").key_values(examples::timing_rows(times));
  r.write(in.dir.root);
  times.report = seconds_since(start);
  times.session = seconds_since(in.session_start);
  examples::write_timings(in.dir, times);
}

}  // namespace pathgrad::grokking
