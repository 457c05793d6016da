// Tests for explaind/report/: CSV tables, gnuplot figures (PNG/SVG validity, speed of large
// heatmaps, colours of image grids read back from the PNG, error reporting, atomic outputs) and
// the Markdown/HTML run report.
// Set PATHGRAD_TEST_OUTPUT to a directory to keep the rendered figures there for inspection.
#include <doctest/doctest.h>
#include <zlib.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "explaind/report/csv.hpp"
#include "explaind/report/plot.hpp"
#include "explaind/report/report.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/random.hpp"
#include "tensor/tensor.hpp"

using namespace pathgrad;
using namespace pathgrad::explaind::report;
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A fresh output directory: under $PATHGRAD_TEST_OUTPUT (kept) or the temp dir (removed).
class OutputDir {
 public:
  explicit OutputDir(const std::string& name) {
    const char* keep = std::getenv("PATHGRAD_TEST_OUTPUT");
    keep_ = keep != nullptr && *keep != '\0';
    path_ =
        (keep_ ? fs::path(keep) : fs::temp_directory_path() / ("pathgrad-test-report-" + std::to_string(::getpid()))) /
        name;
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~OutputDir() {
    if (!keep_) fs::remove_all(path_);
  }
  std::string operator/(const std::string& file) const { return (path_ / file).string(); }
  const fs::path& path() const { return path_; }
  // Names in the directory starting with '.', i.e. temporaries left behind.
  std::vector<std::string> hidden_files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_))
      if (e.path().filename().string().front() == '.') out.push_back(e.path().filename().string());
    return out;
  }

 private:
  fs::path path_;
  bool keep_ = false;
};

struct ImageSize {
  uint32_t width = 0, height = 0;
};

// The big-endian 32-bit number at `at` in `bytes`.
uint32_t be32(const std::string& bytes, std::size_t at) {
  uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

// Width and height from the IHDR chunk; throws unless the file starts with the PNG signature.
ImageSize png_size(const std::string& path) {
  const std::string bytes = read_file(path);
  const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 24 || std::memcmp(bytes.data(), signature, 8) != 0 || bytes.compare(12, 4, "IHDR") != 0)
    throw std::runtime_error(path + " is not a PNG file");
  return {be32(bytes, 16), be32(bytes, 20)};
}

// The pixels of a PNG with 8-bit RGB or RGBA samples, not interlaced (what pngcairo writes).
struct PngPixels {
  uint32_t width = 0, height = 0, channels = 0;
  std::vector<unsigned char> samples;  // rows from the top, `channels` samples per pixel
  std::array<int, 3> rgb(uint32_t x, uint32_t y) const {
    const unsigned char* p = samples.data() + (static_cast<std::size_t>(y) * width + x) * channels;
    return {p[0], p[1], p[2]};
  }
};

// Undoes the PNG filter of each row (types 0-4) in `raw` (a filter byte, then `stride` bytes, per row).
std::vector<unsigned char> unfilter_rows(const std::vector<unsigned char>& raw, std::size_t rows, std::size_t stride,
                                         std::size_t bpp) {
  std::vector<unsigned char> out(rows * stride);
  for (std::size_t y = 0; y < rows; ++y) {
    const unsigned char filter = raw[y * (stride + 1)];
    for (std::size_t x = 0; x < stride; ++x) {
      const int a = x >= bpp ? out[y * stride + x - bpp] : 0, b = y > 0 ? out[(y - 1) * stride + x] : 0;
      const int c = x >= bpp && y > 0 ? out[(y - 1) * stride + x - bpp] : 0, p = a + b - c;
      const int paeth = std::abs(p - a) <= std::abs(p - b) && std::abs(p - a) <= std::abs(p - c) ? a
                        : std::abs(p - b) <= std::abs(p - c)                                     ? b
                                                                                                 : c;
      const int predictor = std::array<int, 5>{0, a, b, (a + b) / 2, paeth}.at(filter);
      out[y * stride + x] = static_cast<unsigned char>(raw[y * (stride + 1) + 1 + x] + predictor);
    }
  }
  return out;
}

PngPixels read_png(const std::string& path) {
  const ImageSize size = png_size(path);
  const std::string bytes = read_file(path);
  if (bytes[24] != 8 || (bytes[25] != 2 && bytes[25] != 6) || bytes[28] != 0)
    throw std::runtime_error(path + ": only 8-bit RGB(A) PNGs without interlacing are decoded here");
  std::string compressed;
  for (std::size_t at = 8; at + 8 <= bytes.size(); at += 12 + be32(bytes, at))
    if (bytes.compare(at + 4, 4, "IDAT") == 0) compressed += bytes.substr(at + 8, be32(bytes, at));
  const std::size_t channels = bytes[25] == 6 ? 4 : 3, stride = size.width * channels;
  std::vector<unsigned char> raw(size.height * (stride + 1));
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(compressed.data()), compressed.size()) != Z_OK ||
      raw_size != raw.size())
    throw std::runtime_error(path + ": cannot inflate the image data");
  return {size.width, size.height, static_cast<uint32_t>(channels), unfilter_rows(raw, size.height, stride, channels)};
}

// Whether gnuplot is there to render with; if not, says that the rendering checks are skipped.
bool gnuplot_found() {
  try {
    find_gnuplot();
    return true;
  } catch (const std::runtime_error& e) {
    MESSAGE("skipped rendering: " << std::string(e.what()));
    return false;
  }
}

// The contents of the data file of the first image plotted by `commands` (its scratch file).
std::string first_image_data(const std::string& commands) {
  const std::size_t begin = commands.find("plot \"") + 6;
  return read_file(commands.substr(begin, commands.find('"', begin) - begin));
}

// A [3, height, width] float32 image of one colour.
Tensor solid_image(int64_t height, int64_t width, std::array<double, 3> rgb) {
  Tensor image = Tensor::zeros({3, height, width});
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x) image.set({c, y, x}, rgb[static_cast<std::size_t>(c)]);
  return image;
}

// A [3, 2, 1] image: a red pixel (row 0) over a blue one.
Tensor red_over_blue() {
  Tensor image = solid_image(2, 1, {1, 0, 0});
  image.set({0, 1, 0}, 0);
  image.set({2, 1, 0}, 1);
  return image;
}

bool is_svg(const std::string& path) {
  const std::string text = read_file(path);
  return text.find("<svg") != std::string::npos && text.find("</svg>") != std::string::npos;
}

// Parses CSV text (RFC 4180 quoting) into rows of fields.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        rows.back().back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        rows.back().back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().emplace_back();
    } else if (c == '\n') {
      rows.emplace_back(1);
    } else {
      rows.back().back() += c;
    }
  }
  rows.pop_back();  // after the final line end
  return rows;
}

// A gnuplot stand-in that prints to stderr and fails.
std::string failing_gnuplot(const OutputDir& dir) {
  const std::string path = dir / "fake-gnuplot.sh";
  std::ofstream(path) << "#!/bin/sh\necho 'line 3: boom, this script is bad' >&2\nexit 3\n";
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

std::vector<double> range(int n) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

}  // namespace

TEST_CASE("CSV: quoting and exact round trip of numbers") {
  const std::vector<double> values = {0.1, 1.0 / 3.0, -2.5e17, 5e-324, 1e300, 123456.789, -0.0};
  CsvTable table({"name", "value", "count"});
  for (std::size_t i = 0; i < values.size(); ++i)
    table.add_row({std::string(1, static_cast<char>('a' + i)), values[i], int64_t(1) << 62});
  table.add_row({"with, comma", kNaN, 1});
  table.add_row({"say \"hi\"\nnext line", std::numeric_limits<double>::infinity(), -7});
  table.add_row({" padded ", -std::numeric_limits<double>::infinity(), 0});
  const auto rows = parse_csv(table.str());
  REQUIRE(rows.size() == values.size() + 4);
  CHECK(rows[0] == std::vector<std::string>{"name", "value", "count"});
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double back = std::strtod(rows[i + 1][1].c_str(), nullptr);
    CHECK(std::memcmp(&back, &values[i], sizeof back) == 0);
    CHECK(rows[i + 1][2] == "4611686018427387904");
  }
  CHECK(rows[1][1] == "0.1");
  CHECK(CsvCell(0.1f).encoded() == "0.1");
  CHECK(CsvCell(uint8_t{200}).encoded() == "200");
  const std::size_t n = values.size();
  CHECK(rows[n + 1] == std::vector<std::string>{"with, comma", "nan", "1"});
  CHECK(rows[n + 2] == std::vector<std::string>{"say \"hi\"\nnext line", "inf", "-7"});
  CHECK(rows[n + 3] == std::vector<std::string>{" padded ", "-inf", "0"});
  CHECK(table.str().find("\"say \"\"hi\"\"\nnext line\"") != std::string::npos);

  OutputDir dir("csv");
  const auto curves = CsvTable::from_columns({{"step", {0, 1, 2}}, {"loss", {2.5, 1.25, 0.1}}});
  curves.write(dir / "sub/curves.csv");
  CHECK(read_file(dir / "sub/curves.csv") == "step,loss\n0,2.5\n1,1.25\n2,0.1\n");

  CHECK_THROWS_AS(table.add_row({"too", "few"}), std::invalid_argument);
  CHECK_THROWS_AS(CsvTable({}), std::invalid_argument);
  CHECK_THROWS_AS(CsvTable::from_columns({}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(CsvTable::from_columns({{"a", {1, 2}}, {"b", {1}}}),
                       doctest::Contains("column 'b' has 1 values"), std::invalid_argument);
}

TEST_CASE("line plot: PNG and SVG with markers, gaps, log and symlog axes") {
  OutputDir dir("line");
  const std::vector<double> steps = range(1000);
  std::vector<double> train(steps.size()), influence(steps.size()), eval_steps, test;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    train[i] = 2.5 * std::exp(-steps[i] / 60) + 1e-4;
    influence[i] = std::sin(steps[i] / 50) * std::pow(10.0, steps[i] / 250) - 0.5;
  }
  for (double s = 0; s < 1000; s += 25) {  // evaluated every 25 steps
    eval_steps.push_back(s);
    test.push_back(2.5 / (1 + std::exp((s - 600) / 40)) + 1e-3);
  }
  test[20] = kNaN;  // a gap in the test curve
  LinePlot()
      .title("Modular addition: loss")
      .xlabel("step")
      .ylabel("cross-entropy")
      .y_scale(Scale::Log)
      .add_series("train", steps, train)
      .add_series("test", eval_steps, test, SeriesStyle::LinesPoints)
      .add_marker(80, "memorisation at step 80")
      .add_marker(600, "generalisation at step 600")
      .svg()
      .render(dir / "loss.png");
  const ImageSize size = png_size(dir / "loss.png");
  CHECK(size.width == 900);
  CHECK(size.height == 600);
  CHECK(is_svg(dir / "loss.svg"));

  LinePlot()
      .title("Influence of the data term (symlog)")
      .xlabel("step")
      .ylabel("influence")
      .y_scale(Scale::SymLog)
      .add_series("data", steps, influence)
      .legend(LegendPosition::TopLeft)
      .size(640, 400)
      .render(dir / "symlog.png");
  CHECK(png_size(dir / "symlog.png").width == 640);
  CHECK(!fs::exists(dir / "symlog.svg"));
  CHECK(dir.hidden_files().empty());
}

TEST_CASE("heatmaps: signed, similarity with groups, sequential with labels, and 2000x2000") {
  OutputDir dir("heatmap");
  Generator gen(7);
  // signed data, float32 tensor, not symmetric in range: the palette must still centre on 0
  Tensor signed_matrix = rand_normal({30, 50}, 0, 1, gen, DType::Float32);
  for (int64_t c = 0; c < 50; ++c) signed_matrix.set({3, c}, 4.0 + c * 0.1);
  signed_matrix.set({10, 10}, kNaN);
  Heatmap(signed_matrix)
      .title("Influence of train examples on test examples")
      .xlabel("train example")
      .ylabel("test example")
      .colorbar_label("influence")
      .render(dir / "signed.png");
  CHECK(png_size(dir / "signed.png").width == 900);

  const int64_t n = 60;
  std::vector<double> sim(static_cast<std::size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      sim[static_cast<std::size_t>(i * n + j)] =
          i == j ? 1.0 : ((i < 40) == (j < 40) ? 0.6 : -0.3) + 0.05 * std::sin(i * j);
  Heatmap(sim, n, n)
      .similarity()
      .title("Kernel similarity of test examples")
      .row_groups({{"cat", 40}, {"dog", 20}})
      .col_groups({{"cat", 40}, {"dog", 20}})
      .colorbar_label("cosine similarity")
      .svg()
      .render(dir / "similarity.png");
  CHECK(png_size(dir / "similarity.png").width == 800);
  CHECK(png_size(dir / "similarity.png").height == 700);
  CHECK(is_svg(dir / "similarity.svg"));

  std::vector<std::string> components = {"embed.weight",   "pos.weight",   "attn.qkv.weight", "attn.out.weight",
                                         "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight",  "unembed.weight"};
  std::vector<double> magnitude;
  for (std::size_t c = 0; c < components.size(); ++c)
    for (int s = 0; s < 12; ++s) magnitude.push_back(std::exp(-0.3 * s) * (c + 1));
  std::vector<std::string> step_labels;
  for (int s = 0; s < 12; ++s) step_labels.push_back(std::to_string(s * 500));
  Heatmap(magnitude, static_cast<int64_t>(components.size()), 12)
      .title("Influence magnitude per component")
      .xlabel("step")
      .row_labels(components)
      .col_labels(step_labels)
      .render(dir / "sequential.png");
  CHECK(png_size(dir / "sequential.png").height == 600);

  const int64_t big = 2000;
  std::vector<double> large(static_cast<std::size_t>(big * big));
  for (int64_t i = 0; i < big; ++i)
    for (int64_t j = 0; j < big; ++j)
      large[static_cast<std::size_t>(i * big + j)] = std::sin(i * 0.01) * std::cos(j * 0.013);
  const auto start = std::chrono::steady_clock::now();
  Heatmap(std::move(large), big, big).similarity().title("2000 x 2000").render(dir / "large.png");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seconds < 30);  // a loose sanity bound; about a second on one core
  CHECK(png_size(dir / "large.png").width == 800);
  CHECK(dir.hidden_files().empty());
}

TEST_CASE("bar chart and grid of line plots") {
  OutputDir dir("bars");
  BarChart({"embed.weight", "attn.qkv.weight", "attn.out.weight", "mlp.fc1.weight", "mlp.fc2.weight", "unembed.weight"})
      .title("Influence per component")
      .ylabel("influence on test loss")
      .add_series("data", {0.8, -0.3, 0.1, 1.4, -0.9, 0.5})
      .add_series("weight decay", {-0.2, -0.1, kNaN, -0.6, 0.2, -0.3})
      .svg()
      .render(dir / "bars.png");
  CHECK(png_size(dir / "bars.png").width == 900);
  CHECK(is_svg(dir / "bars.svg"));

  PlotGrid grid;
  grid.title("Influence per component over training").xlabel("step").ylabel("influence");
  const std::vector<double> steps = range(200);
  for (int c = 0; c < 5; ++c) {
    std::vector<double> curve;
    for (const double s : steps) curve.push_back(std::sin(s / (10.0 + 5 * c)) * (c + 1));
    grid.add(LinePlot()
                 .title("layers." + std::to_string(c) + ".weight")
                 .add_series("", steps, curve)
                 .add_marker(120, "step 120"));
  }
  grid.render(dir / "grid.png");
  CHECK(grid.num_panels() == 5);
  const ImageSize size = png_size(dir / "grid.png");
  CHECK(size.width == 3 * 330);
  CHECK(size.height == 2 * 250 + 40);
  CHECK(dir.hidden_files().empty());
}

TEST_CASE("figures reject bad input with a message naming it") {
  const std::vector<double> x = {1, 2, 3};
  CHECK_THROWS_WITH_AS(LinePlot().add_series("loss", x, {1, 2}), doctest::Contains("'loss' has 3 x values but 2 y"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(LinePlot().add_series("empty", {}, {}), doctest::Contains("'empty' is empty"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(LinePlot().add_series("nan", x, {kNaN, kNaN, kNaN}), doctest::Contains("no point with finite"),
                       std::invalid_argument);
  CHECK_THROWS_AS(LinePlot().add_marker(kNaN, "x"), std::invalid_argument);
  CHECK_THROWS_AS(LinePlot().y_scale(Scale::SymLog, -1), std::invalid_argument);
  CHECK_THROWS_AS(LinePlot().size(0, 100), std::invalid_argument);

  OutputDir dir("errors");
  CHECK_THROWS_WITH_AS(LinePlot().title("nothing").render(dir / "none.png"), doctest::Contains("no series"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(LinePlot().y_scale(Scale::Log).add_series("negative", x, {-1, 0, -2}).render(dir / "log.png"),
                       doctest::Contains("log y needs y > 0"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(LinePlot().add_series("a", x, x).render(dir / "plot.jpg"), doctest::Contains(".png"),
                       std::invalid_argument);

  CHECK_THROWS_WITH_AS(Heatmap({1, 2, 3}, 2, 2), doctest::Contains("3 values for a 2x2"), std::invalid_argument);
  CHECK_THROWS_AS(Heatmap({}, 0, 3), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Heatmap({kNaN, kNaN}, 1, 2), doctest::Contains("no finite value"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Heatmap({1, 2, 3, 4, 5, 6}, 2, 3).similarity(), doctest::Contains("must be square, got 2x3"),
                       std::invalid_argument);
  CHECK_THROWS_AS(Heatmap(Tensor::ones({2, 2, 2})), std::invalid_argument);
  CHECK_THROWS_AS(Heatmap(Tensor::ones({2, 2}, DType::Int64)), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Heatmap({1, 2, 3, 4}, 2, 2).row_groups({{"a", 1}, {"b", 2}}), doctest::Contains("cover 3"),
                       std::invalid_argument);
  CHECK_THROWS_AS(Heatmap({1, 2, 3, 4}, 2, 2).col_labels({"a"}), std::invalid_argument);
  CHECK_THROWS_AS(Heatmap({1, 2, 3, 4}, 2, 2).row_labels({"a", "b"}).row_groups({{"ab", 2}}), std::invalid_argument);
  CHECK_THROWS_AS(Heatmap({1, 2, 3, 4}, 2, 2).color_range(1, 1), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Heatmap({1, 2, 3, 4}, 2, 2).palette(Palette::Diverging).color_range(-1, 3).render(dir / "h.png"),
                       doctest::Contains("symmetric"), std::invalid_argument);

  CHECK_THROWS_AS(BarChart({}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(BarChart({"a", "b"}).add_series("data", {1}), doctest::Contains("'data' has 1 values for 2"),
                       std::invalid_argument);
  CHECK_THROWS_AS(BarChart({"a"}).add_series("nan", {kNaN}), std::invalid_argument);
  CHECK_THROWS_AS(BarChart({"a"}).render(dir / "bars.png"), std::invalid_argument);
  CHECK_THROWS_AS(PlotGrid().render(dir / "grid.png"), std::invalid_argument);
  CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("a missing or failing gnuplot is reported and leaves no partial image") {
  OutputDir dir("gnuplot");
  const std::vector<double> x = {0, 1, 2};
  const auto plot = [&] { return LinePlot().title("t").add_series("s", x, {1, 3, 2}); };
  CHECK_THROWS_WITH_AS(plot().gnuplot("/nonexistent/gnuplot").render(dir / "a.png"),
                       doctest::Contains("gnuplot not found: '/nonexistent/gnuplot'"), std::runtime_error);
  CHECK_THROWS_WITH_AS(plot().gnuplot("no-such-gnuplot-here").render(dir / "a.png"),
                       doctest::Contains("no executable 'no-such-gnuplot-here'"), std::runtime_error);
  {
    const char* previous = std::getenv("PATHGRAD_GNUPLOT");
    const std::string saved = previous != nullptr ? previous : "";
    ::setenv("PATHGRAD_GNUPLOT", "/nonexistent/from-env", 1);
    CHECK_THROWS_WITH_AS(plot().render(dir / "a.png"), doctest::Contains("PATHGRAD_GNUPLOT"), std::runtime_error);
    if (previous != nullptr)
      ::setenv("PATHGRAD_GNUPLOT", saved.c_str(), 1);
    else
      ::unsetenv("PATHGRAD_GNUPLOT");
  }
  CHECK(!fs::exists(dir / "a.png"));

  plot().render(dir / "kept.png");
  const std::string before = read_file(dir / "kept.png");
  const std::string fake = failing_gnuplot(dir);
  try {
    plot().gnuplot(fake).svg().render(dir / "kept.png");
    FAIL("a failing gnuplot must throw");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    CHECK(message.find("exit status 3") != std::string::npos);
    CHECK(message.find("boom, this script is bad") != std::string::npos);
    CHECK(message.find("kept.png") != std::string::npos);
  }
  CHECK(read_file(dir / "kept.png") == before);  // the earlier image is untouched
  CHECK(!fs::exists(dir / "kept.svg"));
  CHECK(dir.hidden_files().empty());
}

TEST_CASE("heatmap colour range: diverging centred on 0, sequential over the data") {
  ScratchDir scratch;
  const Canvas canvas{900, 600, 12};
  const std::string signed_commands = Heatmap({-1, 3, kNaN, 0}, 2, 2).commands(scratch, canvas);
  CHECK(signed_commands.find("set cbrange [-3:3]") != std::string::npos);
  CHECK(signed_commands.find("0 '#f7f7f7'") != std::string::npos);              // white at 0
  CHECK(signed_commands.find("fillcolor rgb '#c8c8c8'") != std::string::npos);  // grey behind NaN
  const std::string positive = Heatmap({1, 3}, 1, 2).commands(scratch, canvas);
  CHECK(positive.find("set cbrange [1:3]") != std::string::npos);
  CHECK(positive.find("'#440154'") != std::string::npos);  // viridis
  CHECK(Heatmap({0.5, 0.2, 0.2, 0.5}, 2, 2).similarity().commands(scratch, canvas).find("set cbrange [-1:1]") !=
        std::string::npos);
  CHECK(Heatmap({1, 3}, 1, 2).palette(Palette::Diverging).commands(scratch, canvas).find("set cbrange [-3:3]") !=
        std::string::npos);
}

TEST_CASE("image grid rejects bad images with a message naming the caption") {
  CHECK_THROWS_WITH_AS(ImageGrid().add(Tensor::ones({3, 4, 4}, DType::Int64), "ints"),
                       doctest::Contains("'ints' has dtype int64"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ImageGrid().add(Tensor::ones({4, 4}), "flat"), doctest::Contains("'flat' has shape [4, 4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ImageGrid().add(Tensor::ones({4, 5, 5}), "rgba"), doctest::Contains("'rgba' has 4 channels"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ImageGrid().add(Tensor::ones({3, 0, 5}), "none"), doctest::Contains("'none' is empty"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ImageGrid().columns(-1), doctest::Contains("columns must be >= 0, got -1"),
                       std::invalid_argument);
  ScratchDir scratch;
  CHECK_THROWS_WITH_AS(ImageGrid().title("empty").commands(scratch, {260, 150, 9}), doctest::Contains("no images"),
                       std::invalid_argument);
  ImageGrid grid;
  grid.add(solid_image(2, 2, {1, 0, 0}), "kept");
  CHECK_THROWS_AS(grid.add(Tensor::ones({1, 2, 2}), "grey"), std::invalid_argument);
  CHECK(grid.num_panels() == 1);  // a rejected image adds no cell
}

TEST_CASE("image grid data: bytes row by row from row 0, clamped, NaN mid grey") {
  // planes of a 2x2 image: red, green, blue
  const std::vector<double> values = {1, 0, 0.5, -1, /**/ 0, 1, kNaN, 2, /**/ 0, 0, 1, 0.25};
  for (const DType dtype : {DType::Float32, DType::Float64}) {
    ScratchDir scratch;
    const std::string commands = ImageGrid()
                                     .columns(3)
                                     .add(Tensor::from_vector(values, {3, 2, 2}, dtype), "2x2")
                                     .add_blank("gap")
                                     .add_blank()
                                     .commands(scratch, {390, 150, 9});
    CHECK(commands.find("set multiplot layout 1,3\n") != std::string::npos);
    CHECK(commands.find("set yrange [1.5:-0.5]") != std::string::npos);  // row 0 at the top
    CHECK(commands.find("binary array=(2,2) dx=1 dy=1 origin=(0,0) format='%uchar' with rgbimage") !=
          std::string::npos);
    CHECK(commands.find("set xlabel \"gap\"\nplot [0:1] [0:1] NaN") != std::string::npos);
    const std::string data = first_image_data(commands);
    const std::string expected = {'\xff', '\x00', '\x00', /**/ '\x00', '\xff', '\x00',   // row 0: red, green
                                  '\x80', '\x80', '\xff', /**/ '\x00', '\xff', '\x40'};  // row 1
    CHECK(data == expected);
  }
  // any strides: an image stored as [3, W, H] and viewed as [3, H, W]
  ScratchDir scratch;
  const Tensor stored = Tensor::from_vector(std::vector<double>{1, 0.5, 0, 0.25, 0, 0, 0, 0, 0, 0, 0, 0}, {3, 2, 2});
  std::string commands = ImageGrid().add(kernel::transpose(stored, 1, 2), "view").commands(scratch, {130, 150, 9});
  CHECK(first_image_data(commands) == std::string("\xff\x00\x00\x00\x00\x00\x80\x00\x00\x40\x00\x00", 12));
  // a column of 2 pixels (red over blue): each pixel repeated 2x2 times, each copy half a unit wide
  commands = ImageGrid().add(red_over_blue(), "column").commands(scratch, {130, 150, 9});
  CHECK(commands.find("set xrange [-0.5:0.5]\nset yrange [1.5:-0.5]\n") != std::string::npos);
  CHECK(commands.find("array=(2,4) dx=0.5 dy=0.5 origin=(-0.25,-0.25)") != std::string::npos);
  const std::string two_red("\xff\x00\x00\xff\x00\x00", 6), two_blue("\x00\x00\xff\x00\x00\xff", 6);
  CHECK(first_image_data(commands) == two_red + two_red + two_blue + two_blue);
}

TEST_CASE("image grid: a 2x3 grid of synthetic images at 130x150 pixels per cell") {
  if (!gnuplot_found()) return;
  OutputDir dir("image_grid");
  Tensor gradient = Tensor::zeros({3, 32, 32}), checkerboard = Tensor::zeros({3, 8, 8}, DType::Float64);
  for (int64_t y = 0; y < 32; ++y)
    for (int64_t x = 0; x < 32; ++x) {
      gradient.set({0, y, x}, x / 31.0);
      gradient.set({1, y, x}, y / 31.0);
      for (int64_t c = 0; c < 3 && x < 8 && y < 8; ++c) checkerboard.set({c, y, x}, (x + y) % 2);
    }
  Tensor noisy = solid_image(24, 16, {2, kNaN, -1});  // clamped to red, NaN green: (255, 128, 0)
  ImageGrid grid;
  grid.title("Synthetic images").columns(3);
  grid.add(solid_image(32, 32, {1, 0, 0}), "red")
      .add(solid_image(32, 32, {0, 1, 0}), "green\n(second line)")
      .add(solid_image(32, 32, {0, 0, 1}), "blue")
      .add(gradient, "gradient")
      .add(checkerboard, "checkerboard 8x8")
      .add(noisy, "clamped, 24x16");
  CHECK(grid.num_panels() == 6);
  grid.svg().render(dir / "grid.png");
  CHECK(png_size(dir / "grid.png").width == 3 * 130);
  CHECK(png_size(dir / "grid.png").height == 2 * 150 + 40);
  CHECK(is_svg(dir / "grid.svg"));
  grid.size(500, 300).svg(false).render(dir / "sized.png");
  CHECK(png_size(dir / "sized.png").width == 500);
  CHECK(png_size(dir / "sized.png").height == 300);
  CHECK(dir.hidden_files().empty());
}

TEST_CASE("image grid colours read back from the PNG: red, blue, and row 0 at the top") {
  if (!gnuplot_found()) return;
  OutputDir dir("image_colours");
  ImageGrid()
      .columns(3)
      .add(solid_image(32, 32, {1, 0, 0}), "red")
      .add(solid_image(32, 32, {0, 0, 1}), "blue")
      .add(red_over_blue(), "red over blue")
      .render(dir / "colours.png");
  const PngPixels png = read_png(dir / "colours.png");
  REQUIRE(png.width == 3 * 130);
  const uint32_t centre_y = 67;  // the images span rows 8-127: half a line above, the caption below
  CHECK(png.rgb(65, centre_y) == std::array<int, 3>{255, 0, 0});
  CHECK(png.rgb(195, centre_y) == std::array<int, 3>{0, 0, 255});
  CHECK(png.rgb(325, centre_y - 25) == std::array<int, 3>{255, 0, 0});
  CHECK(png.rgb(325, centre_y + 25) == std::array<int, 3>{0, 0, 255});
  CHECK(png.rgb(2, 2) == std::array<int, 3>{255, 255, 255});  // the white background around
}

TEST_CASE("scratch directories disappear with their files") {
  std::string path, file;
  {
    ScratchDir scratch;
    path = scratch.path();
    file = scratch.write("data", "1 2\n");
    CHECK(read_file(file) == "1 2\n");
  }
  CHECK(!fs::exists(file));
  CHECK(!fs::exists(path));
}

TEST_CASE("gnuplot quoting keeps any title literal") {
  CHECK(gnuplot_quote("plain") == "\"plain\"");
  CHECK(gnuplot_quote("a \"b\" \\c\nd\te") == "\"a \\\"b\\\" \\\\c\\nd e\"");
  OutputDir dir("quoting");
  const std::vector<double> x = {0, 1};
  LinePlot()
      .title("w_q^2 @macro \"quoted\" \\back $x 'single' ~{brace}\nsecond line ünïcode")
      .xlabel("x_1")
      .add_series("a_b; plot sin(x)", x, x)
      .render(dir / "q.png");
  CHECK(png_size(dir / "q.png").width == 900);
}

TEST_CASE("report: Markdown and HTML with sections, tables, figures and code") {
  OutputDir dir("report");
  LinePlot().title("loss").add_series("train", {0, 1, 2}, {3, 2, 1}).render(dir / "figs/loss.png");
  nlohmann::json summary = {{"steps", 5000}, {"optim", {{"name", "AdamW"}, {"lr", 0.001}}}, {"seeds", {1, 2}}};
  Report report("Grokking <run 1>");
  report.section("Command")
      .code("./grokking --steps 5000 --out 'run 1/'\n")
      .section("Summary")
      .key_values_from_json(summary)
      .key_values({{"replica error", "3e-7"}})
      .subsection("Accuracy by split")
      .table({"split", "accuracy", "examples"}, {{"train", "1.0", "4656"}, {"test", "0.99", "4753"}})
      .section("Training")
      .paragraph("Loss *dropped* at step 420 | see <figure>.\n# not a heading\n- not a list")
      .figure("figs/loss.png", "Training loss & markers");
  report.write(dir.path().string());

  const std::string md = read_file(dir / "report.md");
  CHECK(md.starts_with("# Grokking \\<run 1\\>\n"));
  CHECK(md.find("## Summary\n") != std::string::npos);
  CHECK(md.find("### Accuracy by split\n") != std::string::npos);
  CHECK(md.find("| optim.name | AdamW |") != std::string::npos);
  CHECK(md.find("| optim.lr | 0.001 |") != std::string::npos);
  CHECK(md.find("| seeds | \\[1,2\\] |") != std::string::npos);
  CHECK(md.find("| split | accuracy | examples |\n| --- | ---: | ---: |\n| train | 1.0 | 4656 |") != std::string::npos);
  CHECK(md.find("Loss \\*dropped\\* at step 420 \\| see \\<figure\\>.\n\\# not a heading\n\\- not a list") !=
        std::string::npos);
  CHECK(md.find("![Figure 1: Training loss \\& markers](figs/loss.png)") != std::string::npos);
  CHECK(md.find("```\n./grokking --steps 5000 --out 'run 1/'\n```\n") != std::string::npos);

  const std::string html = read_file(dir / "report.html");
  CHECK(html.starts_with("<!DOCTYPE html>"));
  CHECK(html.find("<style>") != std::string::npos);
  CHECK(html.find("<h1>Grokking &lt;run 1&gt;</h1>") != std::string::npos);
  CHECK(html.find("<h2>Summary</h2>") != std::string::npos);
  CHECK(html.find("<h3>Accuracy by split</h3>") != std::string::npos);
  CHECK(html.find("<tr><th>optim.lr</th><td>0.001</td></tr>") != std::string::npos);
  CHECK(html.find("<td class=\"num\">0.99</td>") != std::string::npos);
  CHECK(html.find("<img src=\"figs/loss.png\" alt=\"Figure 1: Training loss &amp; markers\">") != std::string::npos);
  CHECK(html.find("<pre><code>./grokking --steps 5000 --out &#39;run 1/&#39;\n</code></pre>") != std::string::npos);
  CHECK(html.find("see &lt;figure&gt;.") != std::string::npos);
  CHECK(html.find("src=\"http") == std::string::npos);  // nothing fetched from elsewhere

  Report missing("missing figure");
  missing.figure("nope.png", "absent");
  CHECK_THROWS_WITH_AS(missing.write(dir.path().string()), doctest::Contains("'nope.png' does not exist"),
                       std::runtime_error);
  CHECK_THROWS_AS(Report("t").figure("/abs/path.png", "c"), std::invalid_argument);
  CHECK_THROWS_AS(Report("t").table({"a", "b"}, {{"1"}}), std::invalid_argument);
  CHECK_THROWS_AS(Report("t").key_values_from_json(nlohmann::json::array({1, 2})), std::invalid_argument);
}

TEST_CASE("report: odd paths and code containing fences") {
  Report r("paths");
  r.figure("my figs/loss (log).png", "c").code("echo ```\n");
  const std::string md = r.markdown();
  CHECK(md.find("](my%20figs/loss%20%28log%29.png)") != std::string::npos);
  CHECK(md.find("````\necho ```\n````\n") != std::string::npos);
  CHECK(r.html().find("src=\"my%20figs/loss%20%28log%29.png\"") != std::string::npos);
}
