// Rendering the replica-check plots.
#include "examples/common/replica_figures.hpp"

#include <algorithm>
#include <cmath>

#include "explaind/report/plot.hpp"

namespace pathgrad::examples {

using explaind::report::LinePlot;

std::vector<FigureRef> plot_replica_fit(const RunDir& dir, const ReplicaCheck& c, const std::string& output_label) {
  const auto [lo, hi] = std::minmax_element(c.real.begin(), c.real.end());
  LinePlot scatter;
  scatter.title("Kernel machine (replica) against the trained model")
      .xlabel(output_label)
      .ylabel("replica: F(theta_0) + sum_s phi_s . delta_s")
      .add_series("probe scalars", c.real, c.replica, explaind::report::SeriesStyle::Points)
      .add_series("y = x", {*lo, *hi}, {*lo, *hi})
      .legend(explaind::report::LegendPosition::TopLeft);
  std::vector<double> error;
  for (size_t i = 0; i < c.real.size(); ++i) error.push_back(std::abs(c.replica[i] - c.real[i]));
  std::vector<double> index(error.size());
  for (size_t i = 0; i < index.size(); ++i) index[i] = static_cast<double>(i);
  LinePlot errors;
  errors.title("Replica error per probe scalar")
      .xlabel("probe scalar (manifest order)")
      .ylabel("|replica - model|")
      .y_scale(explaind::report::Scale::Log)
      .add_series("", index, error, explaind::report::SeriesStyle::Points);
  LinePlot residual;
  residual.title("Residual of the path integral per step")
      .xlabel("step")
      .ylabel("|rho_s|")
      .y_scale(explaind::report::Scale::Log)
      .add_series("max over probes", c.steps, c.residual_max)
      .add_series("mean over probes", c.steps, c.residual_mean)
      .legend(explaind::report::LegendPosition::BottomRight);
  std::vector<FigureRef> out{
      render(dir, scatter, "replica_scatter",
             "Every probe scalar: the kernel machine's output (replica) against the trained model's. On the "
             "diagonal when the path kernel accounts for the whole training run."),
      render(dir, errors, "replica_error", "Absolute replica error of each probe scalar (log scale).")};
  if (std::ranges::any_of(c.residual_max, [](double v) { return v > 0; }))
    out.push_back(render(dir, residual, "residuals",
                         "Largest and mean |rho_s| per step: what the quadrature of the path integral missed "
                         "(log scale; steps at exactly 0 are gaps)."));
  return out;
}

std::vector<FigureRef> plot_step_influence(const RunDir& dir, const std::vector<double>& steps,
                                           const std::vector<StepSeries>& series,
                                           const std::vector<StepMarker>& markers, const StepInfluenceText& text) {
  LinePlot influence;
  influence.title("Step-wise influence phi_s . delta_s (mean over probes)")
      .xlabel("step")
      .ylabel(text.ylabel)
      .y_scale(explaind::report::Scale::SymLog);
  LinePlot cumulative;
  cumulative.title("Cumulative influence of the steps (mean over probes)")
      .xlabel("step")
      .ylabel(text.cumulative_ylabel);
  for (const StepSeries& s : series) {
    influence.add_series(s.name, steps, s.values);
    cumulative.add_series(s.name, steps, running_sum(s.values));
  }
  cumulative.legend(explaind::report::LegendPosition::BottomLeft);
  for (const StepMarker& m : markers) {
    influence.add_marker(m.step, m.label);
    cumulative.add_marker(m.step, m.label);
  }
  return {render(dir, influence, "step_influence", text.caption),
          render(dir, cumulative, "cumulative_influence", text.cumulative_caption)};
}

}  // namespace pathgrad::examples
