// Line plots: data files with gaps, log and symmetric-log axes, markers, legend.
#include "explaind/report/line_plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "explaind/report/number_format.hpp"

namespace pathgrad::explaind::report {

namespace {

double symlog(double y, double threshold) { return std::copysign(std::log10(1 + std::abs(y) / threshold), y); }

double power_of_ten_at_or_below(double v) { return std::pow(10.0, std::floor(std::log10(v))); }

// Explicit y ticks for a symlog axis: 0 and ±t·10^k for the decades up to `max_abs`, at most
// `max_ticks` in all, labelled in data units. ±t itself, drawn close to 0, is left out when
// there are higher decades to show.
std::string symlog_ytics(double threshold, double max_abs, bool negative, bool positive, int max_ticks) {
  const int top = max_abs > threshold ? static_cast<int>(std::floor(std::log10(max_abs / threshold) + 1e-9)) : 0;
  const int bottom = top >= 1 ? 1 : 0;
  const int per_side = std::max(1, (negative && positive) ? max_ticks / 2 : max_ticks - 1);
  const int step = std::max(1, (top - bottom + per_side) / per_side);
  std::string tics = "set ytics (\"0\" 0";
  for (int k = top; k >= bottom; k -= step) {
    const double value = threshold * std::pow(10.0, k);
    const double at = symlog(value, threshold);
    if (positive) tics += fmt::format(", \"{:g}\" {}", value, format_number(at));
    if (negative) tics += fmt::format(", \"{:g}\" {}", -value, format_number(-at));
  }
  return tics + ")\n";
}

// A tick spacing keeping at most `max_ticks` labels over [lo, hi]: a multiple of 1, 2 or 5 on a
// linear axis, a power of ten per tick on a log axis (nothing when one tick per decade fits).
std::string tick_step_commands(char axis, bool log, double lo, double hi, int max_ticks) {
  if (!(hi > lo)) return "";
  if (!log) return fmt::format("set {}tics {}\n", axis, format_number(nice_tick_step(hi - lo, max_ticks)));
  const double decades = std::log10(hi / lo);
  if (decades <= max_ticks) return "";
  return fmt::format("set {}tics {}\n", axis, format_number(std::pow(10.0, std::ceil(decades / max_ticks))));
}

const char* style_spec(SeriesStyle style) {
  switch (style) {
    case SeriesStyle::Points:
      return "points pt 7 ps 0.6";
    case SeriesStyle::LinesPoints:
      return "linespoints lw 2 pt 7 ps 0.6";
    case SeriesStyle::Lines:
      break;
  }
  return "lines lw 2";
}

}  // namespace

LinePlot& LinePlot::add_series(std::string name, std::vector<double> x, std::vector<double> y, SeriesStyle style) {
  if (x.size() != y.size())
    throw std::invalid_argument(
        fmt::format("LinePlot: series '{}' has {} x values but {} y values", name, x.size(), y.size()));
  if (x.empty()) throw std::invalid_argument(fmt::format("LinePlot: series '{}' is empty", name));
  bool any_finite = false;
  for (std::size_t i = 0; i < x.size() && !any_finite; ++i) any_finite = std::isfinite(x[i]) && std::isfinite(y[i]);
  if (!any_finite)
    throw std::invalid_argument(
        fmt::format("LinePlot: series '{}' has no point with finite x and y (all NaN/inf)", name));
  series_.push_back({std::move(name), std::move(x), std::move(y), style});
  return *this;
}

LinePlot& LinePlot::add_marker(double x, std::string label) {
  if (!std::isfinite(x)) throw std::invalid_argument(fmt::format("LinePlot: marker '{}' at non-finite x", label));
  markers_.push_back({x, std::move(label)});
  return *this;
}

LinePlot& LinePlot::log_x(bool on) {
  log_x_ = on;
  return *this;
}

LinePlot& LinePlot::y_scale(Scale scale, double symlog_threshold) {
  if (!(symlog_threshold >= 0))
    throw std::invalid_argument(fmt::format("LinePlot: symlog threshold must be >= 0, got {}", symlog_threshold));
  y_scale_ = scale;
  symlog_threshold_ = symlog_threshold;
  return *this;
}

LinePlot& LinePlot::legend(LegendPosition position) {
  legend_ = position;
  return *this;
}

std::string LinePlot::commands(ScratchDir& scratch, const Canvas& canvas) const {
  if (series_.empty()) throw std::invalid_argument(fmt::format("LinePlot '{}': no series to plot", settings().title));
  const auto drawable = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!log_x_ || x > 0) && (y_scale_ != Scale::Log || y > 0);
  };
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min;
  double y_min = std::numeric_limits<double>::infinity(), y_max = -y_min;
  double max_abs = 0, min_nonzero = std::numeric_limits<double>::infinity();
  bool negative = false, positive = false;
  for (const auto& s : series_) {
    bool any = false;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!drawable(s.x[i], s.y[i])) continue;
      any = true;
      x_min = std::min(x_min, s.x[i]);
      x_max = std::max(x_max, s.x[i]);
      y_min = std::min(y_min, s.y[i]);
      y_max = std::max(y_max, s.y[i]);
      max_abs = std::max(max_abs, std::abs(s.y[i]));
      if (s.y[i] != 0) min_nonzero = std::min(min_nonzero, std::abs(s.y[i]));
      negative |= s.y[i] < 0;
      positive |= s.y[i] > 0;
    }
    if (!any)
      throw std::invalid_argument(fmt::format("LinePlot '{}': series '{}' has no point the axes can show{}{}",
                                              settings().title, s.name, log_x_ ? " (log x needs x > 0)" : "",
                                              y_scale_ == Scale::Log ? " (log y needs y > 0)" : ""));
  }
  double threshold = symlog_threshold_;
  if (y_scale_ == Scale::SymLog && threshold == 0)
    threshold = max_abs > 0 ? power_of_ten_at_or_below(std::max(min_nonzero, 1e-4 * max_abs)) : 1.0;

  const TickBudget budget = tick_budget(canvas);
  std::string out = title_and_label_commands(settings(), canvas.font_size) + axes_style_commands();
  const bool any_named = std::any_of(series_.begin(), series_.end(), [](const Series& s) { return !s.name.empty(); });
  out += legend_commands(any_named ? legend_ : LegendPosition::Hidden);
  out += "set format x \"%g\"\nset format y \"%g\"\n";
  if (log_x_) out += "set logscale x\n";
  if (y_scale_ == Scale::Log) out += "set logscale y\n";
  if (y_scale_ == Scale::SymLog)
    out += symlog_ytics(threshold, max_abs, negative, positive, budget.y);
  else
    out += tick_step_commands('y', y_scale_ == Scale::Log, y_min, y_max, budget.y);
  if (y_scale_ != Scale::Log && negative && positive) out += "set xzeroaxis lt 1 lc rgb '#888888' lw 1\n";

  double range_min = x_min, range_max = x_max;
  if (!markers_.empty()) out += "set style textbox opaque fillcolor rgb 'white' noborder margins 2,1\n";
  for (const auto& m : markers_) {
    if (log_x_ && m.x <= 0)
      throw std::invalid_argument(fmt::format("LinePlot '{}': marker '{}' at x = {} cannot be shown on a log x axis",
                                              settings().title, m.label, m.x));
    range_min = std::min(range_min, m.x);
    range_max = std::max(range_max, m.x);
    out += fmt::format(
        "set arrow from first {0}, graph 0 to first {0}, graph 1 nohead dt 2 lw 1.5 lc rgb '#555555' front\n",
        format_number(m.x));
    out += fmt::format(
        "set label {} at first {}, graph 0.98 rotate by 90 right offset character -1,0 "
        "boxed tc rgb '#333333' font \",{}\" front\n",
        gnuplot_quote(m.label), format_number(m.x), std::max(6, canvas.font_size - 1));
  }
  if (range_min < x_min || range_max > x_max)
    out += fmt::format("set xrange [{}:{}]\n", format_number(range_min), format_number(range_max));
  out += tick_step_commands('x', log_x_, range_min, range_max, budget.x);

  std::vector<std::string> plots;
  for (std::size_t k = 0; k < series_.size(); ++k) {
    const Series& s = series_[k];
    std::string data;
    bool in_gap = true;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!drawable(s.x[i], s.y[i])) {
        if (!in_gap) data += '\n';
        in_gap = true;
        continue;
      }
      const double y = y_scale_ == Scale::SymLog ? symlog(s.y[i], threshold) : s.y[i];
      data += format_number(s.x[i]) + ' ' + format_number(y) + '\n';
      in_gap = false;
    }
    plots.push_back(fmt::format("{} using 1:2 with {} lc {} {}", gnuplot_quote(scratch.write("series", data)),
                                style_spec(s.style), series_color(k),
                                s.name.empty() ? std::string("notitle") : "title " + gnuplot_quote(s.name)));
  }
  out += "plot ";
  for (std::size_t k = 0; k < plots.size(); ++k) out += (k > 0 ? ", \\\n     " : "") + plots[k];
  return out + '\n';
}

}  // namespace pathgrad::explaind::report
