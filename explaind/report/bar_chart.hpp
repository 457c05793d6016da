// Grouped bar charts of signed values: one group of bars per category (e.g. per component), one
// bar per series within it (e.g. the data part and the weight-decay part of an influence).
#pragma once

#include <string>
#include <vector>

#include "explaind/report/figure.hpp"

namespace pathgrad::explaind::report {

// Usage:
//   BarChart({"fc1.weight", "fc1.bias", "fc2.weight"}).title("Influence per component")
//       .ylabel("influence").add_series("data", data_part).add_series("weight decay", wd_part)
//       .render("run/components.png");
// Bars grow from 0 (a line marks y = 0 when values are signed). A NaN or infinite value draws no
// bar. Long or many category labels are rotated. Default canvas 900x600 pixels, 12 pt.
class BarChart : public Figure<BarChart> {
 public:
  // Throws std::invalid_argument if there are no categories.
  explicit BarChart(std::vector<std::string> categories);
  // Adds one bar per category. Throws std::invalid_argument (naming the series) if the number of
  // values differs from the number of categories or none is finite.
  BarChart& add_series(std::string name, std::vector<double> values);
  BarChart& legend(LegendPosition position);

  Canvas default_canvas() const { return {900, 600, 12}; }
  // The gnuplot commands drawing this chart from a reset state (see render_figure()).
  // Throws std::invalid_argument when there is no series.
  std::string commands(ScratchDir& scratch, const Canvas& canvas) const;

 private:
  struct Series {
    std::string name;
    std::vector<double> values;
  };
  std::vector<std::string> categories_;
  std::vector<Series> series_;
  LegendPosition legend_ = LegendPosition::TopRight;
};

}  // namespace pathgrad::explaind::report
