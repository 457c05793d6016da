// A grid of captioned RGB images: validation, conversion to bytes, and one multiplot panel per cell.
#include "explaind/report/image_grid.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>

#include "explaind/report/number_format.hpp"

namespace pathgrad::explaind::report {

namespace {

// Throws std::invalid_argument naming `caption` unless `image` is a non-empty float [3, H, W].
void check_image(const Tensor& image, const std::string& caption) {
  const auto fail = [&](const std::string& problem) {
    throw std::invalid_argument(fmt::format("ImageGrid: image '{}' {}", caption, problem));
  };
  if (image.dtype() != DType::Float32 && image.dtype() != DType::Float64)
    fail(fmt::format("has dtype {}, expected float32 or float64", dtype_name(image.dtype())));
  if (image.dim() != 3) fail(fmt::format("has shape {}, expected [3, H, W]", shape_str(image.shape())));
  if (image.size(0) != 3)
    fail(fmt::format("has {} channels (shape {}), expected 3: [3, H, W]", image.size(0), shape_str(image.shape())));
  if (image.numel() == 0) fail(fmt::format("is empty (shape {})", shape_str(image.shape())));
}

// One channel value as a byte: clamped to [0, 1] and scaled to [0, 255]; NaN is mid grey.
uint8_t to_byte(double v) {
  return std::isnan(v) ? 128 : static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255));
}

// The [3, H, W] planes of `image` interleaved as H*W red, green, blue triples, row 0 first.
std::vector<uint8_t> interleaved_bytes(const Tensor& image) {
  const Tensor c = image.contiguous();
  const int64_t plane = c.size(1) * c.size(2);
  std::vector<uint8_t> rgb(static_cast<std::size_t>(3 * plane));
  dispatch_float(c.dtype(), "ImageGrid", [&](auto t) {
    const auto* p = c.data<decltype(t)>();
    for (int64_t i = 0; i < plane; ++i)
      for (int64_t channel = 0; channel < 3; ++channel)
        rgb[static_cast<std::size_t>(3 * i + channel)] = to_byte(static_cast<double>(p[channel * plane + i]));
  });
  return rgb;
}

// `rgb` (height x width pixels) with each pixel repeated `factor` times across and down.
std::vector<uint8_t> repeat_pixels(const std::vector<uint8_t>& rgb, int64_t height, int64_t width, int64_t factor) {
  std::vector<uint8_t> out;
  out.reserve(rgb.size() * static_cast<std::size_t>(factor * factor));
  for (int64_t y = 0; y < height * factor; ++y)
    for (int64_t x = 0; x < width * factor; ++x) {
      const auto pixel = rgb.begin() + 3 * ((y / factor) * width + x / factor);
      out.insert(out.end(), pixel, pixel + 3);
    }
  return out;
}

// Draws an image of height x width pixels (bytes `rgb`) over [-0.5, width - 0.5] x
// [-0.5, height - 0.5], row 0 at the top. gnuplot draws no image less than 2 pixels wide or high,
// so such an image goes in with each pixel repeated 2x2 times, each copy half a unit wide.
std::string image_commands(const std::vector<uint8_t>& rgb, int64_t height, int64_t width, ScratchDir& scratch) {
  const int64_t factor = std::min(height, width) < 2 ? 2 : 1;
  const std::vector<uint8_t> bytes = factor == 1 ? rgb : repeat_pixels(rgb, height, width, factor);
  const std::string data =
      scratch.write("image", std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  const double step = 1.0 / static_cast<double>(factor), origin = (step - 1) / 2;
  return fmt::format("set xrange [-0.5:{}]\nset yrange [{}:-0.5]\n", format_number(width - 0.5),
                     format_number(height - 0.5)) +
         fmt::format("plot {} binary array=({},{}) dx={} dy={} origin=({},{}) format='%uchar' with rgbimage notitle\n",
                     gnuplot_quote(data), width * factor, height * factor, format_number(step), format_number(step),
                     format_number(origin), format_number(origin));
}

int line_count(const std::string& text) { return 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

}  // namespace

ImageGrid& ImageGrid::columns(int count) {
  columns_ = checked_columns("ImageGrid", count);
  return *this;
}

ImageGrid& ImageGrid::add(const Tensor& image, std::string caption) {
  check_image(image, caption);
  cells_.push_back({interleaved_bytes(image), image.size(1), image.size(2), std::move(caption)});
  return *this;
}

ImageGrid& ImageGrid::add_blank(std::string caption) {
  cells_.push_back({{}, 0, 0, std::move(caption)});
  return *this;
}

std::string ImageGrid::commands(ScratchDir& scratch, const Canvas& canvas) const {
  if (cells_.empty()) throw std::invalid_argument(fmt::format("ImageGrid '{}': no images to draw", settings().title));
  int caption_lines = 0;
  for (const Cell& cell : cells_)
    if (!cell.caption.empty()) caption_lines = std::max(caption_lines, line_count(cell.caption));

  std::string out = multiplot_commands(shape(), settings().title, canvas.font_size);
  out += "unset border\nunset tics\nunset key\nset size ratio -1\n";
  out += fmt::format("set lmargin 0.5\nset rmargin 0.5\nset tmargin 0.5\nset bmargin {}\n", caption_lines + 0.5);
  for (const Cell& cell : cells_) {
    out += cell.caption.empty() ? "unset xlabel\n" : fmt::format("set xlabel {}\n", gnuplot_quote(cell.caption));
    out += cell.rgb.empty() ? "plot [0:1] [0:1] NaN notitle\n"
                            : image_commands(cell.rgb, cell.height, cell.width, scratch);
  }
  return out + "unset multiplot\n";
}

}  // namespace pathgrad::explaind::report
