// A grid of small line plots in one image (gnuplot multiplot), e.g. one influence curve per
// component, each panel titled with its component's name.
#pragma once

#include <vector>

#include "explaind/report/figure.hpp"
#include "explaind/report/line_plot.hpp"

namespace pathgrad::explaind::report {

// Usage:
//   PlotGrid grid;
//   grid.title("Influence per component").xlabel("step").ylabel("influence").columns(3);
//   for (auto& [name, curve] : curves) grid.add(LinePlot().title(name).add_series("", steps, curve));
//   grid.render("run/influence_per_component.png");
// The grid's title is the figure's title; its x and y labels apply to every panel that has none
// of its own. A panel's own size, font size, svg and gnuplot settings are ignored: the grid's
// count. Default canvas: 330x250 pixels per panel, 10 pt.
class PlotGrid : public Figure<PlotGrid> {
 public:
  // Panels per row; 0 (the default) picks ceil(sqrt(number of panels)). Throws if negative.
  PlotGrid& columns(int count);
  PlotGrid& add(LinePlot panel);

  std::size_t num_panels() const { return panels_.size(); }
  Canvas default_canvas() const;
  // The gnuplot commands drawing the grid from a reset state (see render_figure()).
  // Throws std::invalid_argument when there is no panel, or a panel cannot be drawn.
  std::string commands(ScratchDir& scratch, const Canvas& canvas) const;

 private:
  GridShape shape() const { return grid_shape(panels_.size(), columns_); }
  std::vector<LinePlot> panels_;
  int columns_ = 0;
};

}  // namespace pathgrad::explaind::report
