// Rendering the CIFAR-2 report's plots.
#include "examples/cifar2/figures.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "explaind/report/plot.hpp"

namespace pathgrad::cifar2 {

namespace {

using examples::render;
using explaind::report::LinePlot;

std::vector<double> percent(std::vector<double> v) {
  for (double& x : v) x *= 100;
  return v;
}

}  // namespace

std::vector<FigureRef> plot_training_curves(const RunDir& dir, const Metrics& m) {
  LinePlot loss;
  loss.title("Loss (mean NLL)")
      .xlabel("step")
      .ylabel("loss")
      .add_series("training batch (augmented, before the step)", m.step, m.train_loss)
      .add_series("test images (after each epoch)", m.epoch_step, m.test_loss,
                  explaind::report::SeriesStyle::LinesPoints)
      .legend(explaind::report::LegendPosition::TopRight);
  LinePlot accuracy;
  accuracy.title("Accuracy")
      .xlabel("step")
      .ylabel("accuracy (%)")
      .add_series("training batch", m.step, percent(m.train_acc))
      .add_series("test images", m.epoch_step, percent(m.test_acc), explaind::report::SeriesStyle::LinesPoints)
      .legend(explaind::report::LegendPosition::BottomRight);
  LinePlot lr;
  lr.title("Learning rate (triangle per iteration)").xlabel("step").ylabel("lr").add_series("", m.step, m.lr);
  return {render(dir, loss, "loss",
                 "Mean NLL loss of each step's training batch (random flips, measured before the step's update) and "
                 "of the test images after each epoch (step 0: the initial model)."),
          render(dir, accuracy, "accuracy",
                 "Accuracy of each step's training batch and of the test images after each epoch."),
          render(dir, lr, "lr",
                 "The learning rate of each step: 0 at step 0, the peak at the start of --peak-epoch, 0 at the end.")};
}

namespace {

// Net (data + weight decay) influence of layer c in window w.
double net(const examples::ComponentInfluence& ci, size_t c, size_t w) { return ci.data[c][w] + ci.decay[c][w]; }

LinePlot cumulative_plot(const examples::ComponentInfluence& ci, const std::vector<std::string>& layers) {
  std::vector<double> x{0};
  for (const examples::StepRange& w : ci.windows) x.push_back(static_cast<double>(w.end));
  LinePlot plot;
  plot.title("Cumulative influence of each layer on log p(own class)")
      .xlabel("step (end of epoch)")
      .ylabel("change of log p(own class), mean over probes")
      .legend(explaind::report::LegendPosition::Outside);
  for (size_t c = 0; c < layers.size(); ++c) {
    std::vector<double> sum{0};
    for (size_t w = 0; w < ci.windows.size(); ++w) sum.push_back(sum.back() + net(ci, c, w));
    plot.add_series(layers[c], x, sum, explaind::report::SeriesStyle::LinesPoints);
  }
  return plot;
}

// Layers (rows) x epochs (columns), symmetric colours up to the largest |cell|, returned in `range`.
explaind::report::Heatmap epoch_heatmap(const examples::ComponentInfluence& ci, const std::vector<std::string>& layers,
                                        double& range) {
  std::vector<double> cells;  // [layer][window], row-major
  for (size_t c = 0; c < layers.size(); ++c)
    for (size_t w = 0; w < ci.windows.size(); ++w) cells.push_back(net(ci, c, w));
  range = 0;
  for (double v : cells) range = std::max(range, std::abs(v));
  std::vector<std::string> epochs;
  for (size_t w = 0; w < ci.windows.size(); ++w) epochs.push_back(std::to_string(w + 1));
  const double span = range > 0 ? range : 1.0;
  explaind::report::Heatmap heat(cells, static_cast<int64_t>(layers.size()), static_cast<int64_t>(ci.windows.size()));
  heat.palette(explaind::report::Palette::Diverging)
      .color_range(-span, span)
      .title("Influence per layer and epoch on log p(own class)")
      .xlabel("epoch")
      .ylabel("layer")
      .colorbar_label("change of log p(own class)")
      .row_labels(layers)
      .col_labels(epochs);
  return heat;
}

explaind::report::BarChart balance_chart(const examples::ComponentInfluence& ci,
                                         const std::vector<std::string>& layers) {
  std::vector<double> total;
  for (size_t c = 0; c < layers.size(); ++c) total.push_back(ci.data_total[c] + ci.decay_total[c]);
  explaind::report::BarChart balance(layers);
  balance.title("Data and weight-decay parts per layer (whole run)")
      .ylabel("change of log p(own class)")
      .add_series("data", ci.data_total)
      .add_series("weight decay", ci.decay_total)
      .add_series("net", total)
      .legend(explaind::report::LegendPosition::Outside);
  return balance;
}

}  // namespace

std::vector<FigureRef> plot_layer_influence(const RunDir& dir, const examples::ComponentInfluence& ci,
                                            const std::vector<std::string>& layers) {
  double range = 0;
  const explaind::report::Heatmap heat = epoch_heatmap(ci, layers, range);
  return {render(dir, cumulative_plot(ci, layers), "layers_cumulative",
                 "Each layer's influence on the probes' log-probability of their own class, mean over the probe "
                 "images, summed up to the end of each epoch (data and weight-decay parts together)."),
          render(dir, heat, "layers_per_epoch",
                 fmt::format("The same per epoch: red raised log p(own class), blue lowered it. Colours span "
                             "+-{:.3g}.",
                             range)),
          render(dir, balance_chart(ci, layers), "layers_balance",
                 "Whole run, per layer: the data part (the training batches' gradients carried by the momentum), "
                 "the weight-decay part, and their sum.")};
}

}  // namespace pathgrad::cifar2
