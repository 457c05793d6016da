// Heatmaps: validation, colour range and palette choice, axis annotations, binary image data.
#include "explaind/report/heatmap.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <tuple>

#include "explaind/report/number_format.hpp"

namespace pathgrad::explaind::report {

namespace {

constexpr const char* kDivergingPalette =  // ColorBrewer RdBu, reversed: blue < 0 < red
    "set palette defined (-5 '#053061', -4 '#2166ac', -3 '#4393c3', -2 '#92c5de', -1 '#d1e5f0', 0 '#f7f7f7', "
    "1 '#fddbc7', 2 '#f4a582', 3 '#d6604d', 4 '#b2182b', 5 '#67001f')\n";
constexpr const char* kSequentialPalette =  // viridis
    "set palette defined (0 '#440154', 1 '#482878', 2 '#3e4989', 3 '#31688e', 4 '#26828e', 5 '#1f9e89', "
    "6 '#35b779', 7 '#6ece58', 8 '#b5de2b', 9 '#fde725')\n";
constexpr std::size_t kMaxTickLabels = 40;

// Tick labels, or labelled groups with boundary lines, along the x ('x', columns) or y ('y', rows)
// axis of `length` cells; otherwise at most `max_ticks` numeric ticks at integer indices.
std::string axis_commands(const std::vector<std::string>& labels, const std::vector<AxisGroup>& groups, int64_t length,
                          char axis, int max_ticks) {
  std::string out;
  std::vector<std::pair<std::string, double>> ticks;
  if (!labels.empty()) {
    const std::size_t every = (labels.size() + kMaxTickLabels - 1) / kMaxTickLabels;
    for (std::size_t i = 0; i < labels.size(); i += every) ticks.emplace_back(labels[i], static_cast<double>(i));
  } else if (!groups.empty()) {
    int64_t begin = 0;
    for (const auto& g : groups) {
      ticks.emplace_back(g.label, static_cast<double>(begin) + (static_cast<double>(g.size) - 1) / 2);
      begin += g.size;
      if (begin == length) break;
      const std::string at = format_number(static_cast<double>(begin) - 0.5);
      out += axis == 'x'
                 ? fmt::format(
                       "set arrow from first {0}, graph 0 to first {0}, graph 1 nohead front lc rgb '#000000' lw 1.2\n",
                       at)
                 : fmt::format(
                       "set arrow from graph 0, first {0} to graph 1, first {0} nohead front lc rgb '#000000' lw 1.2\n",
                       at);
    }
  } else {
    const double step = std::max(1.0, nice_tick_step(static_cast<double>(length), max_ticks));
    return fmt::format("set {}tics 0, {}, {}\n", axis, format_number(step), length - 1);
  }
  out += tick_label_commands(axis, ticks, groups.empty());
  return out;
}

void check_annotation(const char* what, std::size_t labels, std::size_t groups) {
  if (labels > 0 && groups > 0)
    throw std::invalid_argument(fmt::format("Heatmap: the {} axis cannot have both tick labels and groups", what));
}

void check_groups(const char* what, const std::vector<AxisGroup>& groups, int64_t length) {
  int64_t total = 0;
  for (const auto& g : groups) {
    if (g.size <= 0)
      throw std::invalid_argument(fmt::format("Heatmap: {} group '{}' has size {}", what, g.label, g.size));
    total += g.size;
  }
  if (total != length)
    throw std::invalid_argument(
        fmt::format("Heatmap: {} groups cover {} {}s, the matrix has {}", what, total, what, length));
}

}  // namespace

Heatmap::Heatmap(std::vector<double> values, int64_t rows, int64_t cols)
    : values_(std::move(values)), rows_(rows), cols_(cols) {
  if (rows <= 0 || cols <= 0)
    throw std::invalid_argument(fmt::format("Heatmap: matrix shape {}x{} is empty", rows, cols));
  if (static_cast<int64_t>(values_.size()) != rows * cols)
    throw std::invalid_argument(fmt::format("Heatmap: {} values for a {}x{} matrix", values_.size(), rows, cols));
  if (std::none_of(values_.begin(), values_.end(), [](double v) { return std::isfinite(v); }))
    throw std::invalid_argument(fmt::format("Heatmap: the {}x{} matrix has no finite value (all NaN/inf)", rows, cols));
}

namespace {

std::vector<double> matrix_values(const Tensor& matrix) {
  if (matrix.dim() != 2)
    throw std::invalid_argument(fmt::format("Heatmap: expected a 2-d tensor, got {} dimensions", matrix.dim()));
  const Tensor c = matrix.contiguous();
  return dispatch_float(c.dtype(), "Heatmap", [&](auto t) {
    using T = decltype(t);
    const T* p = c.data<T>();
    return std::vector<double>(p, p + c.numel());
  });
}

}  // namespace

Heatmap::Heatmap(const Tensor& matrix)
    : Heatmap(matrix_values(matrix), matrix.dim() == 2 ? matrix.size(0) : 0, matrix.dim() == 2 ? matrix.size(1) : 0) {}

Heatmap& Heatmap::palette(Palette palette) {
  palette_ = palette;
  return *this;
}

Heatmap& Heatmap::color_range(double lo, double hi) {
  if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi))
    throw std::invalid_argument(fmt::format("Heatmap: colour range [{}, {}] must be finite with lo < hi", lo, hi));
  range_ = {lo, hi};
  return *this;
}

Heatmap& Heatmap::similarity() {
  if (rows_ != cols_)
    throw std::invalid_argument(fmt::format("Heatmap: a similarity matrix must be square, got {}x{}", rows_, cols_));
  palette_ = Palette::Diverging;
  return color_range(-1, 1);
}

Heatmap& Heatmap::colorbar_label(std::string label) {
  colorbar_label_ = std::move(label);
  return *this;
}

Heatmap& Heatmap::row_labels(std::vector<std::string> labels) {
  if (static_cast<int64_t>(labels.size()) != rows_)
    throw std::invalid_argument(fmt::format("Heatmap: {} row labels for {} rows", labels.size(), rows_));
  check_annotation("row", labels.size(), row_axis_.groups.size());
  row_axis_.labels = std::move(labels);
  return *this;
}

Heatmap& Heatmap::col_labels(std::vector<std::string> labels) {
  if (static_cast<int64_t>(labels.size()) != cols_)
    throw std::invalid_argument(fmt::format("Heatmap: {} column labels for {} columns", labels.size(), cols_));
  check_annotation("column", labels.size(), col_axis_.groups.size());
  col_axis_.labels = std::move(labels);
  return *this;
}

Heatmap& Heatmap::row_groups(std::vector<AxisGroup> groups) {
  check_groups("row", groups, rows_);
  check_annotation("row", row_axis_.labels.size(), groups.size());
  row_axis_.groups = std::move(groups);
  return *this;
}

Heatmap& Heatmap::col_groups(std::vector<AxisGroup> groups) {
  check_groups("column", groups, cols_);
  check_annotation("column", col_axis_.labels.size(), groups.size());
  col_axis_.groups = std::move(groups);
  return *this;
}

std::string Heatmap::commands(ScratchDir& scratch, const Canvas& canvas) const {
  double min = std::numeric_limits<double>::infinity(), max = -min;
  bool any_nan = false;
  for (const double v : values_) {
    if (std::isnan(v)) any_nan = true;
    if (!std::isfinite(v)) continue;
    min = std::min(min, v);
    max = std::max(max, v);
  }
  const bool diverging =
      palette_ == Palette::Diverging || (palette_ == Palette::Auto && (range_ ? range_->first < 0 : min < 0));
  double lo = 0, hi = 0;
  if (range_) {
    std::tie(lo, hi) = *range_;
    if (diverging && lo != -hi)
      throw std::invalid_argument(fmt::format(
          "Heatmap '{}': a diverging palette is centred on 0 and needs a symmetric colour range, got [{}, {}]",
          settings().title, lo, hi));
  } else if (diverging) {
    hi = std::max(std::abs(min), std::abs(max));
    if (hi == 0) hi = 1;
    lo = -hi;
  } else {
    lo = min;
    hi = max;
    if (lo == hi) {
      lo -= 0.5;
      hi += 0.5;
    }
  }

  std::vector<float> pixels(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) {
    const double v = values_[i];
    pixels[i] = std::isnan(v) ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(std::clamp(v, lo, hi));
  }
  const std::string data = scratch.write(
      "matrix", std::string_view(reinterpret_cast<const char*>(pixels.data()), pixels.size() * sizeof(float)));

  std::string out = title_and_label_commands(settings(), canvas.font_size);
  out += "set border 15 lc rgb '#444444'\nset tics out nomirror\nset format cb \"%g\"\n";
  out += fmt::format("set xrange [-0.5:{}]\nset yrange [{}:-0.5]\n", format_number(cols_ - 0.5),
                     format_number(rows_ - 0.5));
  if (rows_ == cols_) out += "set size square\n";
  out += diverging ? kDivergingPalette : kSequentialPalette;
  out += fmt::format("set cbrange [{}:{}]\n", format_number(lo), format_number(hi));
  if (!colorbar_label_.empty()) out += fmt::format("set cblabel {}\n", gnuplot_quote(colorbar_label_));
  if (any_nan)
    out +=
        "set object 1 rectangle from graph 0,0 to graph 1,1 behind fillcolor rgb '#c8c8c8' fillstyle solid noborder\n";
  const TickBudget budget = tick_budget(canvas);
  out += axis_commands(col_axis_.labels, col_axis_.groups, cols_, 'x', budget.x);
  out += axis_commands(row_axis_.labels, row_axis_.groups, rows_, 'y', budget.y);
  out += fmt::format("plot {} binary array=({},{}) format=\"%float32\" with image notitle\n", gnuplot_quote(data),
                     cols_, rows_);
  return out;
}

}  // namespace pathgrad::explaind::report
