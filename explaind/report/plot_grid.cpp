// A grid of line plots drawn with gnuplot's multiplot layout.
#include "explaind/report/plot_grid.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace pathgrad::explaind::report {

PlotGrid& PlotGrid::columns(int count) {
  columns_ = checked_columns("PlotGrid", count);
  return *this;
}

PlotGrid& PlotGrid::add(LinePlot panel) {
  panels_.push_back(std::move(panel));
  return *this;
}

Canvas PlotGrid::default_canvas() const { return grid_canvas(shape(), {330, 250, 10}, !settings().title.empty()); }

std::string PlotGrid::commands(ScratchDir& scratch, const Canvas& canvas) const {
  if (panels_.empty()) throw std::invalid_argument(fmt::format("PlotGrid '{}': no panels to plot", settings().title));
  const GridShape grid = shape();
  std::string out = multiplot_commands(grid, settings().title, canvas.font_size);
  const int title_height = settings().title.empty() ? 0 : 4 * canvas.font_size;
  const Canvas panel_canvas{canvas.width / grid.columns, (canvas.height - title_height) / grid.rows, canvas.font_size};
  for (LinePlot panel : panels_) {
    if (panel.settings().xlabel.empty()) panel.xlabel(settings().xlabel);
    if (panel.settings().ylabel.empty()) panel.ylabel(settings().ylabel);
    out += "reset\n" + panel.commands(scratch, panel_canvas);
  }
  return out + "unset multiplot\n";
}

}  // namespace pathgrad::explaind::report
