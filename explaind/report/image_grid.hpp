// A grid of small RGB images with a caption each in one image (gnuplot multiplot), e.g. a test
// image beside the training images that raised and lowered its loss the most.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "explaind/report/figure.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::explaind::report {

// Usage:
//   ImageGrid grid;
//   grid.title("Test image 7 and its strongest proponents").columns(5);
//   grid.add(test_image, "test image\ncat").add_blank();
//   for (auto& [image, score] : proponents) grid.add(image, fmt::format("proponent\n{:+.3g}", score));
//   grid.render("run/proponents.png");
// Cells are filled row by row, `columns` per row; add_blank() leaves a cell empty (with an optional
// caption), e.g. to end a row early so that each test image starts a row of its own.
// Each image fills its cell keeping square pixels (images in one grid may differ in size), row 0
// at the top, each pixel a sharp square (no smoothing); no axes, tics or border. The caption goes
// under the image (it may have several lines, separated by '\n'); the grid's title goes on top.
// The figure's x and y labels are not used. Default canvas: 130x150 pixels per cell (plus 40 on
// top for a title), 9 pt; a size() set on the figure is used as it is.
class ImageGrid : public Figure<ImageGrid> {
 public:
  // Cells per row; 0 (the default) picks ceil(sqrt(number of cells)). Throws if negative.
  ImageGrid& columns(int count);
  // Appends an image: a float32 or float64 tensor [3, H, W] (channels first, red, green, blue; any
  // strides) with values meant to lie in [0, 1]. Values are clamped to [0, 1]; NaN is drawn mid
  // grey. Throws std::invalid_argument naming the caption when the dtype is not floating point,
  // the rank is not 3, there are not 3 channels, or H or W is 0.
  ImageGrid& add(const Tensor& image, std::string caption);
  // Appends an empty cell, captioned `caption` when not empty.
  ImageGrid& add_blank(std::string caption = "");

  // Cells added, blank ones included.
  std::size_t num_panels() const { return cells_.size(); }
  Canvas default_canvas() const { return grid_canvas(shape(), {130, 150, 9}, !settings().title.empty()); }
  // The gnuplot commands drawing the grid from a reset state (see render_figure()). Each image
  // reaches gnuplot as a binary scratch file of H*W*3 bytes: pixels in row-major order from row 0,
  // red, green and blue per pixel (0 = 0.0, 255 = 1.0); an image 1 pixel wide or high has each
  // pixel repeated 2x2 times (gnuplot draws no narrower image). Throws std::invalid_argument when
  // there is no cell.
  std::string commands(ScratchDir& scratch, const Canvas& canvas) const;

 private:
  // An image as bytes in the order of the scratch file, or a blank cell (no bytes, 0x0).
  struct Cell {
    std::vector<uint8_t> rgb;
    int64_t height = 0, width = 0;
    std::string caption;
  };
  GridShape shape() const { return grid_shape(cells_.size(), columns_); }
  std::vector<Cell> cells_;
  int columns_ = 0;
};

}  // namespace pathgrad::explaind::report
