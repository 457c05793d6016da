// Line plots: named series of (x, y) points, e.g. training curves or influence over steps, with
// optional log or symmetric-log y, log x, and labelled vertical markers ("memorisation at 420").
#pragma once

#include <string>
#include <vector>

#include "explaind/report/figure.hpp"

namespace pathgrad::explaind::report {

// The y axis: Linear; Log (points with y <= 0 become gaps); SymLog, for signed data spanning many
// orders of magnitude: y is drawn at sign(y) * log10(1 + |y| / t), linear near 0 (|y| < t) and
// logarithmic beyond, with ticks labelled in data units at 0 and ±t·10^k.
enum class Scale { Linear, Log, SymLog };

enum class SeriesStyle { Lines, Points, LinesPoints };

// Usage:
//   LinePlot().title("Loss").xlabel("step").ylabel("loss").y_scale(Scale::Log)
//       .add_series("train", steps, train_loss).add_series("test", steps, test_loss)
//       .add_marker(420, "memorisation at step 420").render("run/loss.png");
// Points whose x or y is NaN or infinite are gaps in their curve (so are points a log axis cannot
// show); a point alone between gaps is visible only with Points or LinesPoints. Tick spacing
// adapts to the canvas. Default canvas 900x600 pixels, 12 pt.
class LinePlot : public Figure<LinePlot> {
 public:
  // Adds a series. Throws std::invalid_argument (naming the series) when x and y differ in length,
  // are empty, or have no point where both are finite. An empty name keeps it out of the legend.
  LinePlot& add_series(std::string name, std::vector<double> x, std::vector<double> y,
                       SeriesStyle style = SeriesStyle::Lines);
  // A dashed vertical line at `x` with `label` written along it. Throws if x is not finite.
  LinePlot& add_marker(double x, std::string label);
  // Logarithmic x axis (points with x <= 0 become gaps; a marker at x <= 0 is an error at render).
  LinePlot& log_x(bool on = true);
  // The y axis scale. For SymLog, `symlog_threshold` is t above; 0 picks the power of ten at or
  // below max(smallest non-zero |y|, 1e-4 · largest |y|). Throws if the threshold is negative.
  LinePlot& y_scale(Scale scale, double symlog_threshold = 0);
  LinePlot& legend(LegendPosition position);

  Canvas default_canvas() const { return {900, 600, 12}; }
  // The gnuplot commands drawing this plot from a reset state (used by render() and PlotGrid).
  // Throws std::invalid_argument when there is no series, or a series has no point the axes can
  // show (e.g. no positive y on a log axis).
  std::string commands(ScratchDir& scratch, const Canvas& canvas) const;

 private:
  struct Series {
    std::string name;
    std::vector<double> x, y;
    SeriesStyle style;
  };
  struct Marker {
    double x;
    std::string label;
  };
  std::vector<Series> series_;
  std::vector<Marker> markers_;
  bool log_x_ = false;
  Scale y_scale_ = Scale::Linear;
  double symlog_threshold_ = 0;
  LegendPosition legend_ = LegendPosition::TopRight;
};

}  // namespace pathgrad::explaind::report
