// Grouped bar charts: bar positions, y range including 0, category labels.
#include "explaind/report/bar_chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "explaind/report/number_format.hpp"

namespace pathgrad::explaind::report {

BarChart::BarChart(std::vector<std::string> categories) : categories_(std::move(categories)) {
  if (categories_.empty()) throw std::invalid_argument("BarChart: no categories");
}

BarChart& BarChart::add_series(std::string name, std::vector<double> values) {
  if (values.size() != categories_.size())
    throw std::invalid_argument(
        fmt::format("BarChart: series '{}' has {} values for {} categories", name, values.size(), categories_.size()));
  if (std::none_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); }))
    throw std::invalid_argument(fmt::format("BarChart: series '{}' has no finite value (all NaN/inf)", name));
  series_.push_back({std::move(name), std::move(values)});
  return *this;
}

BarChart& BarChart::legend(LegendPosition position) {
  legend_ = position;
  return *this;
}

std::string BarChart::commands(ScratchDir& scratch, const Canvas& canvas) const {
  if (series_.empty()) throw std::invalid_argument(fmt::format("BarChart '{}': no series to plot", settings().title));
  double lo = 0, hi = 0;
  for (const auto& s : series_)
    for (const double v : s.values)
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  if (lo == hi) hi = 1;  // all zero
  const double pad = 0.05 * (hi - lo);

  std::string out = title_and_label_commands(settings(), canvas.font_size) + axes_style_commands();
  const bool any_named = std::any_of(series_.begin(), series_.end(), [](const Series& s) { return !s.name.empty(); });
  out += legend_commands(any_named ? legend_ : LegendPosition::Hidden);
  out += "unset grid\nset grid ytics back lt 1 lc rgb '#e4e4e4' lw 1\nset format y \"%g\"\n";
  out += "set style fill solid 0.9 noborder\nset xzeroaxis lt 1 lc rgb '#444444' lw 1\n";
  out += fmt::format("set xrange [-0.6:{}]\n", format_number(static_cast<double>(categories_.size()) - 0.4));
  out +=
      fmt::format("set yrange [{}:{}]\n", format_number(lo < 0 ? lo - pad : 0), format_number(hi > 0 ? hi + pad : 0));
  out += fmt::format("set ytics {}\n", format_number(nice_tick_step(hi - lo, tick_budget(canvas).y)));

  std::vector<std::pair<std::string, double>> ticks;
  for (std::size_t i = 0; i < categories_.size(); ++i) ticks.emplace_back(categories_[i], static_cast<double>(i));
  out += tick_label_commands('x', ticks, false);

  const double width = 0.8 / static_cast<double>(series_.size());
  out += "plot ";
  for (std::size_t k = 0; k < series_.size(); ++k) {
    std::string data;
    for (std::size_t i = 0; i < categories_.size(); ++i) {
      if (!std::isfinite(series_[k].values[i])) continue;
      const double x = static_cast<double>(i) - 0.4 + width * (static_cast<double>(k) + 0.5);
      data += fmt::format("{} {}\n", format_number(x), format_number(series_[k].values[i]));
    }
    out += fmt::format("{}{} using 1:2:({}) with boxes lc {} {}", k > 0 ? ", \\\n     " : "",
                       gnuplot_quote(scratch.write("bars", data)), format_number(width * 0.95), series_color(k),
                       series_[k].name.empty() ? std::string("notitle") : "title " + gnuplot_quote(series_[k].name));
  }
  return out + '\n';
}

}  // namespace pathgrad::explaind::report
