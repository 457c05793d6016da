// Rendering the grokking report's plots.
#include "examples/grokking/figures.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "examples/common/replica_figures.hpp"
#include "explaind/report/plot.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::grokking {

namespace {

using examples::render;
using explaind::report::LinePlot;

// The memorisation and generalisation markers of a run.
std::vector<examples::StepMarker> milestones(const Metrics& m) {
  std::vector<examples::StepMarker> out;
  if (auto s = m.memorisation_step())
    out.push_back({static_cast<double>(*s), fmt::format("memorisation, step {}", *s)});
  if (auto s = m.generalisation_step())
    out.push_back({static_cast<double>(*s), fmt::format("generalisation, step {}", *s)});
  return out;
}

void add_milestones(LinePlot& plot, const Metrics& m) {
  for (const examples::StepMarker& marker : milestones(m)) plot.add_marker(marker.step, marker.label);
}

std::vector<double> scaled(std::vector<double> v, double factor) {
  for (double& x : v) x *= factor;
  return v;
}

std::vector<std::string> texts(const std::vector<int64_t>& v) {
  std::vector<std::string> out;
  for (int64_t x : v) out.push_back(std::to_string(x));
  return out;
}

// A file-name friendly form of a component name ("mlp.fc1.*" -> "mlp_fc1").
std::string slug(std::string name) {
  if (name.ends_with(".*")) name.resize(name.size() - 2);
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

// The q-quantile of |values| (finite ones), for colour ranges robust to a few extreme cells.
double abs_quantile(const Tensor& values, double q) {
  std::vector<double> a;
  for (double v : values.to_vector())
    if (std::isfinite(v)) a.push_back(std::abs(v));
  if (a.empty()) return 1.0;
  const size_t k = std::min(a.size() - 1, static_cast<size_t>(q * static_cast<double>(a.size())));
  std::nth_element(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(k), a.end());
  return a[k] > 0 ? a[k] : 1.0;
}

}  // namespace

std::vector<FigureRef> plot_training_curves(const RunDir& dir, const Metrics& m) {
  LinePlot acc;
  acc.title("Accuracy")
      .xlabel("step")
      .ylabel("accuracy (%)")
      .add_series("train", m.step, scaled(m.train_acc, 100))
      .add_series("validation", m.step, scaled(m.val_acc, 100))
      .legend(explaind::report::LegendPosition::BottomRight);
  add_milestones(acc, m);
  LinePlot loss;
  loss.title("Loss (mean NLL)")
      .xlabel("step")
      .ylabel("loss")
      .y_scale(explaind::report::Scale::Log)
      .add_series("train", m.step, m.train_loss)
      .add_series("validation", m.step, m.val_loss)
      .legend(explaind::report::LegendPosition::BottomLeft);
  add_milestones(loss, m);
  return {render(dir, acc, "accuracy",
                 "Training and validation accuracy per step, measured at the parameters before each update. Dashed "
                 "lines: memorisation (training accuracy first >= 99 %) and generalisation (validation accuracy first "
                 ">= 99 %)."),
          render(dir, loss, "loss", "Training and validation loss per step (log scale), with the same markers.")};
}

std::vector<FigureRef> plot_replica_check(const RunDir& dir, const ReplicaCheck& c, const Metrics& m) {
  std::vector<FigureRef> out = examples::plot_replica_fit(dir, c, "model: log p(label)");
  std::vector<examples::StepSeries> series{{"validation probes", c.val_influence}};
  if (!c.train_influence.empty()) series.push_back({"training probes", c.train_influence});
  const std::vector<FigureRef> influence = examples::plot_step_influence(
      dir, c.steps, series, milestones(m),
      {"change of log p(label)", "change of log p(label) since step 0",
       "How much each step changed the log-probability of the label, mean over validation and over training "
       "probes (symmetric log scale).",
       "The step-wise influence summed up to each step, mean over validation and over training probes: how the "
       "kernel machine's log-probability of the label moved since initialisation."});
  out.insert(out.end(), influence.begin(), influence.end());
  return out;
}

std::vector<FigureRef> plot_component_influence(const RunDir& dir, const ComponentInfluence& ci,
                                                const std::string& name, const std::string& what) {
  std::vector<double> x{0};
  for (const StepRange& w : ci.windows) x.push_back(static_cast<double>(w.end));
  explaind::report::PlotGrid grid;
  grid.title(fmt::format("Cumulative influence of each {} on the validation log-probability", what))
      .xlabel("step")
      .ylabel("influence")
      .columns(3);
  for (size_t c = 0; c < ci.components.size(); ++c) {
    std::vector<double> data{0}, decay{0}, net{0};
    for (size_t w = 0; w < ci.windows.size(); ++w) {
      data.push_back(data.back() + ci.data[c][w]);
      decay.push_back(decay.back() + ci.decay[c][w]);
      net.push_back(data.back() + decay.back());
    }
    grid.add(
        LinePlot()
            .title(ci.components[c])
            .add_series("data", x, data, explaind::report::SeriesStyle::LinesPoints)
            .add_series("weight decay", x, decay, explaind::report::SeriesStyle::LinesPoints)
            .add_series("net", x, net, explaind::report::SeriesStyle::LinesPoints)
            .legend(c == 0 ? explaind::report::LegendPosition::TopLeft : explaind::report::LegendPosition::Hidden));
  }
  std::vector<double> net;
  for (size_t c = 0; c < ci.components.size(); ++c) net.push_back(ci.data_total[c] + ci.decay_total[c]);
  explaind::report::BarChart balance(ci.components);
  balance.title(fmt::format("Balance of data and weight decay per {} (whole run)", what))
      .ylabel("influence on log p(label)")
      .add_series("data", ci.data_total)
      .add_series("weight decay", ci.decay_total)
      .add_series("net", net)
      .legend(explaind::report::LegendPosition::Outside);
  return {render(dir, grid, "components_" + name,
                 fmt::format("Influence of each {} on the label's log-probability, mean over the validation probes, "
                             "summed up to the end of each window: the data part (what the training samples' "
                             "gradients did, blue), the weight-decay part (orange) and their sum (green).",
                             what)),
          render(dir, balance, "balance_" + name,
                 fmt::format("Whole-run influence of each {}: data part, weight-decay part and net change. A "
                             "component whose two parts nearly cancel is held in place by weight decay.",
                             what))};
}

std::vector<FigureRef> plot_similarities(const RunDir& dir, const std::vector<Similarity>& matrices,
                                         const SumOrder& order) {
  std::vector<FigureRef> out;
  for (const Similarity& s : matrices) {
    explaind::report::Heatmap h(s.matrix);
    h.similarity()
        .title(fmt::format("{}: cosine similarity, {}", s.component, s.range.label()))
        .xlabel("validation probe, a + b")
        .ylabel("validation probe, a + b")
        .colorbar_label("cosine similarity")
        .row_labels(texts(order.probe_sums))
        .col_labels(texts(order.probe_sums));
    out.push_back(render(dir, h, fmt::format("similarity_{}_{}_{}", slug(s.component), s.range.begin, s.range.end),
                         fmt::format("{}, {}: cosine similarity between validation probes' parameter-influence "
                                     "vectors restricted to this component, sorted by a + b.",
                                     s.component, s.range.label())));
  }
  return out;
}

std::vector<FigureRef> plot_data_influences(const RunDir& dir, const std::vector<DataInfluence>& matrices,
                                            const SumOrder& order) {
  std::vector<FigureRef> out;
  for (const DataInfluence& d : matrices) {
    const double range = abs_quantile(d.matrix, 0.99);
    explaind::report::Heatmap h(d.matrix);
    h.palette(explaind::report::Palette::Diverging)
        .color_range(-range, range)
        .title(fmt::format("Data influence, {}", d.range.label()))
        .xlabel("training sample, a + b")
        .ylabel("validation probe, a + b")
        .colorbar_label("influence on log p(label)")
        .row_labels(texts(order.probe_sums))
        .col_labels(texts(order.sample_sums));
    out.push_back(render(dir, h, fmt::format("data_influence_{}_{}", d.range.begin, d.range.end),
                         fmt::format("{}: influence of each training sample (columns) on each sample-level "
                                     "validation probe's log-probability of its label (rows), both sorted by a + b. "
                                     "Colours saturate at the 99th percentile of |influence| ({:.3g}).",
                                     d.range.label(), range)));
  }
  return out;
}

std::vector<FigureRef> plot_swap(const RunDir& dir, const SwapResult& swap, const Metrics& m) {
  LinePlot acc;
  acc.title("Swap experiment: outer layers from the final model")
      .xlabel("step i of the other layers")
      .ylabel("validation accuracy (%)")
      .add_series("swapped model", swap.step, scaled(swap.accuracy, 100), explaind::report::SeriesStyle::LinesPoints)
      .add_series("model of step i", swap.step, scaled(swap.own_accuracy, 100),
                  explaind::report::SeriesStyle::LinesPoints)
      .legend(explaind::report::LegendPosition::BottomRight);
  add_milestones(acc, m);
  LinePlot div;
  div.title("Swap experiment: KL(final || swapped)")
      .xlabel("step i of the other layers")
      .ylabel("mean KL (nats)")
      .y_scale(explaind::report::Scale::Log)
      .add_series("", swap.step, swap.kl, explaind::report::SeriesStyle::LinesPoints);
  add_milestones(div, m);
  return {render(dir, acc, "swap_accuracy",
                 "Validation accuracy of models whose embedding, second MLP layer and decoder come from the final "
                 "step and whose other layers (attention, first MLP layer) come from step i, next to the model of "
                 "step i itself."),
          render(dir, div, "swap_kl",
                 "Mean KL divergence from the final model's output distribution to the swapped model's, on the "
                 "validation pairs (log scale; the final step itself, at KL 0, is not drawn).")};
}

}  // namespace pathgrad::grokking
