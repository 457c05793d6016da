// Rendering a figure through gnuplot into atomically placed PNG/SVG files, and shared styling.
#include "explaind/report/figure.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "explaind/report/number_format.hpp"

namespace pathgrad::explaind::report {

namespace fs = std::filesystem;

namespace {

// One image gnuplot writes: first to a temporary file beside the target (a name unique to this
// process and call, created by gnuplot with the usual permissions), then renamed onto it.
// The temporary file is removed unless commit() succeeded.
class PendingOutput {
 public:
  PendingOutput(fs::path target, std::string terminal) : target_(std::move(target)), terminal_(std::move(terminal)) {
    static std::atomic<unsigned long> counter{0};
    temp_ = (target_.parent_path() / fmt::format(".{}.{}-{}.tmp", target_.filename().string(), ::getpid(), counter++))
                .string();
  }
  ~PendingOutput() {
    if (!temp_.empty()) std::remove(temp_.c_str());
  }
  PendingOutput(const PendingOutput&) = delete;
  PendingOutput& operator=(const PendingOutput&) = delete;

  // The gnuplot commands that direct the following drawing into the temporary file.
  std::string select_commands() const {
    return fmt::format("set terminal {}\nset output {}\n", terminal_, gnuplot_quote(temp_));
  }

  void commit() {
    std::error_code ec;
    if (fs::file_size(temp_, ec) == 0 || ec)
      throw std::runtime_error(fmt::format("gnuplot wrote no image for {}", target_.string()));
    const int fd = ::open(temp_.c_str(), O_RDONLY);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
    fs::rename(temp_, target_, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot rename {} to {}: {}", temp_, target_.string(), ec.message()));
    temp_.clear();
  }

 private:
  fs::path target_;
  std::string terminal_;
  std::string temp_;
};

}  // namespace

void render_figure(const std::string& png_path, const FigureSettings& settings, Canvas defaults,
                   const std::function<std::string(ScratchDir&, const Canvas&)>& commands) {
  const fs::path png(png_path);
  if (png.extension() != ".png" || png.stem().empty())
    throw std::invalid_argument(fmt::format("figure path must name a .png file, got '{}'", png_path));
  const Canvas canvas{settings.width > 0 ? settings.width : defaults.width,
                      settings.height > 0 ? settings.height : defaults.height,
                      settings.font_size > 0 ? settings.font_size : defaults.font_size};

  ScratchDir scratch;
  const std::string body = commands(scratch, canvas);  // validates the data first
  const std::string gnuplot = find_gnuplot(settings.gnuplot);

  if (png.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(png.parent_path(), ec);
    if (ec)
      throw std::runtime_error(fmt::format("cannot create directory {}: {}", png.parent_path().string(), ec.message()));
  }
  const std::string terminal = fmt::format("noenhanced size {},{} font \"Sans,{}\" background rgb 'white'",
                                           canvas.width, canvas.height, canvas.font_size);
  std::vector<std::unique_ptr<PendingOutput>> outputs;
  outputs.push_back(std::make_unique<PendingOutput>(png, "pngcairo " + terminal));
  if (settings.svg)
    outputs.push_back(std::make_unique<PendingOutput>(fs::path(png).replace_extension(".svg"), "svg " + terminal));

  std::string script;
  for (const auto& output : outputs)
    script += output->select_commands() + "reset\nset encoding utf8\n" + body + "unset output\n";
  run_gnuplot(gnuplot, scratch.write("script", script), "rendering " + png_path);
  for (auto& output : outputs) output->commit();
}

std::string title_and_label_commands(const FigureSettings& settings, int font_size) {
  std::string out;
  const auto set_or_unset = [&](const char* what, const std::string& text, const std::string& extra) {
    out +=
        text.empty() ? fmt::format("unset {}\n", what) : fmt::format("set {} {}{}\n", what, gnuplot_quote(text), extra);
  };
  set_or_unset("title", settings.title, fmt::format(" font \",{}\"", font_size + 2));
  set_or_unset("xlabel", settings.xlabel, "");
  set_or_unset("ylabel", settings.ylabel, "");
  return out;
}

TickBudget tick_budget(const Canvas& canvas) {
  // a tick label every ~6 em across (numbers like "12000" plus a gap), every ~4 em up
  return {std::max(2, static_cast<int>(0.8 * canvas.width / (6.0 * canvas.font_size))),
          std::max(2, static_cast<int>(0.7 * canvas.height / (4.0 * canvas.font_size)))};
}

double nice_tick_step(double span, int max_ticks) {
  const double raw = span / max_ticks;
  const double decade = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0})
    if (m * decade >= raw * (1 - 1e-9)) return m * decade;
  return 10 * decade;
}

std::string axes_style_commands() {
  return "set border 3 lc rgb '#444444'\n"
         "set tics nomirror out\n"
         "set grid back lt 1 lc rgb '#e4e4e4' lw 1\n";
}

std::string legend_commands(LegendPosition position) {
  const char* where = "top right inside";
  switch (position) {
    case LegendPosition::TopRight:
      break;
    case LegendPosition::TopLeft:
      where = "top left inside";
      break;
    case LegendPosition::BottomRight:
      where = "bottom right inside";
      break;
    case LegendPosition::BottomLeft:
      where = "bottom left inside";
      break;
    case LegendPosition::Outside:
      where = "outside right top";
      break;
    case LegendPosition::Hidden:
      return "unset key\n";
  }
  return fmt::format("set key {} opaque box lt 1 lc rgb '#bbbbbb' samplen 2 spacing 1.2 reverse Left\n", where);
}

std::string tick_label_commands(char axis, const std::vector<std::pair<std::string, double>>& ticks, bool marks) {
  std::string out = fmt::format("set {}tics {}(", axis, marks ? "" : "scale 0 ");
  std::size_t longest = 0;
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    out += fmt::format("{}{} {}", i > 0 ? ", " : "", gnuplot_quote(ticks[i].first), format_number(ticks[i].second));
    longest = std::max(longest, ticks[i].first.size());
  }
  out += ")\n";
  if (axis == 'x' && (longest > 12 || longest * ticks.size() > 70)) out += "set xtics rotate by 45 right\n";
  return out;
}

std::string series_color(std::size_t i) {
  static constexpr std::array<const char*, 8> colors = {"#0072b2", "#d55e00", "#009e73", "#e69f00",
                                                        "#cc79a7", "#56b4e9", "#000000", "#999999"};
  return fmt::format("rgb '{}'", colors[i % colors.size()]);
}

GridShape grid_shape(std::size_t panels, int columns) {
  const int n = static_cast<int>(std::max<std::size_t>(panels, 1));
  const int used = std::min(n, columns > 0 ? columns : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n)))));
  return {(n + used - 1) / used, used};
}

int checked_columns(const char* figure, int count) {
  if (count < 0) throw std::invalid_argument(fmt::format("{}: columns must be >= 0, got {}", figure, count));
  return count;
}

Canvas grid_canvas(GridShape shape, Canvas panel, bool titled) {
  return {panel.width * shape.columns, panel.height * shape.rows + (titled ? 40 : 0), panel.font_size};
}

std::string multiplot_commands(GridShape shape, const std::string& title, int font_size) {
  std::string out = fmt::format("set multiplot layout {},{}", shape.rows, shape.columns);
  if (!title.empty()) out += fmt::format(" title {} font \",{}\"", gnuplot_quote(title), font_size + 3);
  return out + '\n';
}

}  // namespace pathgrad::explaind::report
