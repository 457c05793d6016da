// Heatmaps of a matrix (similarity matrices, influence of training examples on test examples,
// influence per component over steps): colour bar, diverging palette centred on 0 for signed data,
// tick labels or labelled group boundaries. Data reaches gnuplot as binary, so a 2000x2000
// matrix renders in about a second.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "explaind/report/figure.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::explaind::report {

// Auto: Diverging when the data (or the colour range set) has negative values, else Sequential.
// Diverging: blue (negative) - white (0) - red (positive), over a range symmetric about 0.
// Sequential: viridis (dark purple = low, yellow = high) over [min, max].
enum class Palette { Auto, Diverging, Sequential };

// A run of consecutive rows or columns sharing a label (e.g. the examples of one class, or the
// parameters of one layer); groups are laid out in order and must cover the axis exactly.
struct AxisGroup {
  std::string label;
  int64_t size;
};

// Usage:
//   Heatmap(sim, n, n).similarity().title("Kernel similarity").col_groups({{"cat", 50}, {"dog", 50}})
//       .row_groups({{"cat", 50}, {"dog", 50}}).render("run/similarity.png");
// Row 0 is drawn at the top. NaN cells are drawn grey; values outside the colour range take the
// colour of its nearest end. Default canvas 900x600 (800x700 for square matrices), 12 pt.
class Heatmap : public Figure<Heatmap> {
 public:
  // A rows x cols matrix in row-major order. Throws std::invalid_argument when rows or cols is not
  // positive, values.size() != rows * cols, or no value is finite.
  Heatmap(std::vector<double> values, int64_t rows, int64_t cols);
  // A [rows, cols] float32 or float64 tensor (any strides). Same errors, plus wrong rank or dtype.
  explicit Heatmap(const Tensor& matrix);

  Heatmap& palette(Palette palette);
  // Fixed colour range instead of the data's. Throws unless lo < hi, both finite. With a diverging
  // palette the range must be symmetric (lo == -hi): render throws otherwise.
  Heatmap& color_range(double lo, double hi);
  // For similarity matrices: diverging palette on the fixed range [-1, 1]. Throws if not square.
  Heatmap& similarity();
  Heatmap& colorbar_label(std::string label);
  // One tick label per row / column; when there are more than about 40, every k-th is shown.
  // Throws if the count differs from the axis length or the axis already has groups.
  Heatmap& row_labels(std::vector<std::string> labels);
  Heatmap& col_labels(std::vector<std::string> labels);
  // Labelled groups, separated by lines across the matrix. Throws if a size is not positive, the
  // sizes do not add up to the axis length, or the axis already has tick labels.
  Heatmap& row_groups(std::vector<AxisGroup> groups);
  Heatmap& col_groups(std::vector<AxisGroup> groups);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  Canvas default_canvas() const { return rows_ == cols_ ? Canvas{800, 700, 12} : Canvas{900, 600, 12}; }
  // The gnuplot commands drawing this heatmap from a reset state (see render_figure()).
  std::string commands(ScratchDir& scratch, const Canvas& canvas) const;

 private:
  // Tick labels or groups along one axis (at most one of the two is non-empty).
  struct AxisAnnotation {
    std::vector<std::string> labels;
    std::vector<AxisGroup> groups;
  };
  std::vector<double> values_;
  int64_t rows_ = 0, cols_ = 0;
  Palette palette_ = Palette::Auto;
  std::optional<std::pair<double, double>> range_;
  std::string colorbar_label_;
  AxisAnnotation row_axis_, col_axis_;
};

}  // namespace pathgrad::explaind::report
