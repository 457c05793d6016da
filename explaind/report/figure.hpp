// What every figure shares: title and axis labels, output size, font, formats and the gnuplot to
// use (chained setters of the Figure base), and rendering to a PNG (and optionally an SVG) that
// appears atomically or not at all.
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "explaind/report/gnuplot.hpp"

namespace pathgrad::explaind::report {

// Where a figure's legend goes. Inside positions draw an opaque box over the data.
enum class LegendPosition { TopRight, TopLeft, BottomRight, BottomLeft, Outside, Hidden };

struct FigureSettings {
  std::string title, xlabel, ylabel;
  int width = 0, height = 0;  // pixels; 0: the figure type's default
  int font_size = 0;          // points; 0: the figure type's default
  bool svg = false;           // also write an SVG beside the PNG
  std::string gnuplot;        // executable; empty: see find_gnuplot()
};

// The area a figure (or one panel of a grid) is drawn on: pixels and base font size in points.
// Also a figure type's defaults for the fields of FigureSettings left at 0.
struct Canvas {
  int width, height, font_size;
};

// Renders a figure: runs gnuplot once on `commands` (gnuplot commands that draw the figure from a
// reset state on the given canvas; called once) and writes `png_path` (which must end
// in ".png") and, when settings.svg, the same path ending in ".svg". Each output is rendered to a
// temporary file in its directory and renamed into place only when gnuplot succeeded, so no
// partial image is ever left; parent directories are created. Throws std::invalid_argument for a
// bad path or size, std::runtime_error when gnuplot is missing or fails (with its stderr).
void render_figure(const std::string& png_path, const FigureSettings& settings, Canvas defaults,
                   const std::function<std::string(ScratchDir&, const Canvas&)>& commands);

// Chained setters shared by every figure type. Derived must provide
//   Canvas default_canvas() const;
//   std::string commands(ScratchDir& scratch, const Canvas& canvas) const;  // see render_figure
template <class Derived>
class Figure {
 public:
  Derived& title(std::string text) {
    settings_.title = std::move(text);
    return self();
  }
  Derived& xlabel(std::string text) {
    settings_.xlabel = std::move(text);
    return self();
  }
  Derived& ylabel(std::string text) {
    settings_.ylabel = std::move(text);
    return self();
  }
  // Output size in pixels (the SVG uses the same numbers). Throws unless both are positive.
  Derived& size(int width, int height) {
    if (width <= 0 || height <= 0)
      throw std::invalid_argument("figure size must be positive, got " + std::to_string(width) + "x" +
                                  std::to_string(height));
    settings_.width = width;
    settings_.height = height;
    return self();
  }
  // Base font size in points (titles are 2 points larger). Throws unless positive.
  Derived& font_size(int points) {
    if (points <= 0) throw std::invalid_argument("font size must be positive, got " + std::to_string(points));
    settings_.font_size = points;
    return self();
  }
  Derived& svg(bool on = true) {
    settings_.svg = on;
    return self();
  }
  // The gnuplot executable (a path, or a name looked up on PATH); see find_gnuplot().
  Derived& gnuplot(std::string executable) {
    settings_.gnuplot = std::move(executable);
    return self();
  }

  const FigureSettings& settings() const { return settings_; }

  // Writes the figure to `png_path` (and the .svg beside it when svg()); see render_figure().
  void render(const std::string& png_path) const {
    const Derived& derived = static_cast<const Derived&>(*this);
    render_figure(png_path, settings_, derived.default_canvas(),
                  [&](ScratchDir& scratch, const Canvas& canvas) { return derived.commands(scratch, canvas); });
  }

 protected:
  Figure() = default;
  ~Figure() = default;
  Figure(const Figure&) = default;
  Figure& operator=(const Figure&) = default;

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  FigureSettings settings_;
};

// ---- styling shared by the figure types (gnuplot commands, each line ended by '\n') ----

// Title (font_size + 2 points) and axis labels of `settings`; empty texts are unset.
std::string title_and_label_commands(const FigureSettings& settings, int font_size);
// How many tick labels fit along the x and y axes of `canvas` without crowding.
struct TickBudget {
  int x, y;
};
TickBudget tick_budget(const Canvas& canvas);
// A tick spacing of 1, 2 or 5 times a power of ten giving at most `max_ticks` intervals over
// `span` (both positive).
double nice_tick_step(double span, int max_ticks);
// Light grid, left/bottom border only, ticks outside.
std::string axes_style_commands();
// The legend at `position`.
std::string legend_commands(LegendPosition position);
// Explicit tick labels on `axis` ('x' or 'y') at the given positions, without tick marks unless
// `marks`. On x, labels are rotated by 45 degrees when long or crowded.
std::string tick_label_commands(char axis, const std::vector<std::pair<std::string, double>>& ticks, bool marks);
// The colour of the i-th series as a gnuplot colour spec ("rgb '#0072b2'"): the Okabe-Ito
// colour-blind-safe palette, cycling.
std::string series_color(std::size_t i);

// ---- grids of panels (PlotGrid, ImageGrid): one gnuplot multiplot, panels filled row by row ----

// Rows and columns of a grid.
struct GridShape {
  int rows, columns;
};
// The shape of a grid of `panels` panels with `columns` per row; 0 columns: ceil(sqrt(panels)).
// Never more columns than panels; at least 1x1 (also for no panel).
GridShape grid_shape(std::size_t panels, int columns);
// `count` when it is a valid columns() setting (>= 0); otherwise throws std::invalid_argument
// naming `figure` ("PlotGrid", "ImageGrid").
int checked_columns(const char* figure, int count);
// The default canvas of a grid: `panel` (width and height per panel, font size) for each panel,
// plus 40 pixels on top for the title when `titled`.
Canvas grid_canvas(GridShape shape, Canvas panel, bool titled);
// Starts the multiplot of a grid, titled `title` (font_size + 3 points; no title when empty).
std::string multiplot_commands(GridShape shape, const std::string& title, int font_size);

}  // namespace pathgrad::explaind::report
