// A grid of line plots drawn with gnuplot's multiplot layout.
#include "explaind/report/plot_grid.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace pathgrad::report {

PlotGrid& PlotGrid::columns(int count) {
  if (count < 0) throw std::invalid_argument(fmt::format("PlotGrid: columns must be >= 0, got {}", count));
  columns_ = count;
  return *this;
}

PlotGrid& PlotGrid::add(LinePlot panel) {
  panels_.push_back(std::move(panel));
  return *this;
}

int PlotGrid::columns_used() const {
  const int n = static_cast<int>(std::max<std::size_t>(panels_.size(), 1));
  const int columns = columns_ > 0 ? columns_ : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  return std::min(columns, n);
}

int PlotGrid::rows_used() const {
  const int n = static_cast<int>(std::max<std::size_t>(panels_.size(), 1));
  return (n + columns_used() - 1) / columns_used();
}

Canvas PlotGrid::default_canvas() const {
  return {330 * columns_used(), 250 * rows_used() + (settings().title.empty() ? 0 : 40), 10};
}

std::string PlotGrid::commands(ScratchDir& scratch, const Canvas& canvas) const {
  if (panels_.empty()) throw std::invalid_argument(fmt::format("PlotGrid '{}': no panels to plot", settings().title));
  std::string out = "set multiplot layout " + std::to_string(rows_used()) + "," + std::to_string(columns_used());
  if (!settings().title.empty())
    out += fmt::format(" title {} font \",{}\"", gnuplot_quote(settings().title), canvas.font_size + 3);
  out += '\n';
  const int title_height = settings().title.empty() ? 0 : 4 * canvas.font_size;
  const Canvas panel_canvas{canvas.width / columns_used(), (canvas.height - title_height) / rows_used(), canvas.font_size};
  for (LinePlot panel : panels_) {
    if (panel.settings().xlabel.empty()) panel.xlabel(settings().xlabel);
    if (panel.settings().ylabel.empty()) panel.ylabel(settings().ylabel);
    out += "reset\n" + panel.commands(scratch, panel_canvas);
  }
  return out + "unset multiplot\n";
}

}  // namespace pathgrad::report
