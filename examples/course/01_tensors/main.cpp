// Lesson 1: tensors. A tensor is storage + shape + strides + offset; views share the storage;
// broadcasting lines shapes up from the right; matmul hands the work to OpenBLAS. The program
// prints each idea on a small example, races a three-loop product against BLAS, and saves .npy
// files that numpy reads.
//
//   ./build/examples/course/lesson_01_tensors [output directory, default runs/course/01_tensors]
//
// Writes broadcast.png (a product table made by broadcasting), matmul_time.png (loops vs BLAS)
// and a.npy, a_transposed.npy, table.npy.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "autograd/ops.hpp"
#include "examples/course/01_tensors/exercises.hpp"
#include "explaind/report/heatmap.hpp"
#include "explaind/report/line_plot.hpp"
#include "tensor/npy.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;

namespace {

void print_layout(const std::string& name, const Tensor& t) {
  fmt::print("{:<16} shape {:<8} strides {:<8} offset {}  contiguous {}\n", name, shape_str(t.shape()),
             shape_str(t.strides()), t.offset(), t.is_contiguous());
}

// Views: reshape, transpose and narrow change shape/strides/offset, never the data.
Tensor show_views() {
  fmt::print("== 1. storage, shape, strides ==\n");
  const Tensor a = reshape(Tensor::arange(6, DType::Float64), {2, 3});  // [2, 3]
  const Tensor at = transpose(a, 0, 1);                                 // [3, 2], a view
  const Tensor row1 = narrow(a, 0, 1, 1);                               // [1, 3], a view
  print_layout("a", a);
  print_layout("transpose(a)", at);
  print_layout("narrow(a,0,1,1)", row1);
  fmt::print("a =\n{}\n", a.to_string());
  fmt::print("transpose(a)[2][1] = {} lives at offset 2*{} + 1*{} = {} of a's storage (same buffer: {})\n",
             at.at({2, 1}), at.strides()[0], at.strides()[1], course::element_offset(at.strides(), {2, 1}),
             at.storage() == a.storage());
  const Tensor copy = contiguous(at);
  print_layout("contiguous(at)", copy);
  fmt::print("contiguous() copied it into row-major order: new buffer {}\n\n", copy.storage() != a.storage());
  return a;
}

// Broadcasting: [12, 1] * [1, 12] -> [12, 12], the multiplication table, without any loop.
Tensor show_broadcasting() {
  fmt::print("== 2. broadcasting ==\n");
  const Tensor n = Tensor::arange(12, DType::Float64) + 1.0;  // [12]: 1..12
  const Tensor col = reshape(n, {12, 1}), row = reshape(n, {1, 12});
  const Tensor table = col * row;                 // [12, 12]
  const Tensor expanded = expand(col, {12, 12});  // the view broadcasting reads
  fmt::print("[12, 1] * [1, 12] -> {}; broadcast_shape says {}\n", shape_str(table.shape()),
             shape_str(course::broadcast_shape(col.shape(), row.shape())));
  print_layout("expand(col)", expanded);
  fmt::print("stride 0 along dim 1: every column reads the same 12 numbers; table[6][7] = {}\n\n", table.at({6, 7}));
  return table;
}

struct Timing {
  std::vector<double> sizes, loop_ms, blas_ms;
};

// Best of `repeats` runs of f, in milliseconds.
template <class F>
double best_ms(int repeats, F&& f) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// Three loops against OpenBLAS on n x n float64 matrices; fails if they disagree.
Timing race_matmul() {
  fmt::print("== 3. matrix products: three loops vs OpenBLAS (float64) ==\n");
  Generator gen(1);
  Timing t;
  for (int64_t n : {16, 32, 64, 128, 256, 512}) {
    const Tensor a = rand_normal({n, n}, 0, 1, gen, DType::Float64), b = rand_normal({n, n}, 0, 1, gen, DType::Float64);
    Tensor c_loops, c_blas;
    const double loops = best_ms(3, [&] { c_loops = course::matmul_loops(a, b); });
    const double blas = best_ms(3, [&] { c_blas = matmul(a, b); });
    // Both sum n products of N(0,1) numbers; their rounding errors are ~ n * 2^-53 * sqrt(n).
    const double diff = amax(abs(c_loops - c_blas)).item();
    if (!(diff < 1e-12 * static_cast<double>(n)))
      throw std::runtime_error(fmt::format("loops and BLAS differ by {} at n = {}", diff, n));
    const double gflop = 2.0 * static_cast<double>(n * n * n) * 1e-9;
    fmt::print("n = {:>3}: loops {:8.3f} ms ({:5.2f} GFLOP/s), BLAS {:7.3f} ms ({:5.1f} GFLOP/s), max |diff| {:.1e}\n",
               n, loops, gflop / loops * 1e3, blas, gflop / blas * 1e3, diff);
    t.sizes.push_back(static_cast<double>(n));
    t.loop_ms.push_back(loops);
    t.blas_ms.push_back(blas);
  }
  fmt::print("\n");
  return t;
}

void write_plots(const std::string& dir, const Tensor& table, const Timing& t) {
  std::vector<std::string> labels;
  for (int i = 1; i <= 12; ++i) labels.push_back(std::to_string(i));
  explaind::report::Heatmap(table)
      .title("[12, 1] * [1, 12]: the product table by broadcasting")
      .row_labels(labels)
      .col_labels(labels)
      .colorbar_label("value")
      .render(dir + "/broadcast.png");
  explaind::report::LinePlot()
      .title("n x n matrix product, float64")
      .xlabel("n")
      .ylabel("time (ms)")
      .log_x()
      .y_scale(explaind::report::Scale::Log)
      .legend(explaind::report::LegendPosition::TopLeft)
      .add_series("three loops (exercise 1.3)", t.sizes, t.loop_ms, explaind::report::SeriesStyle::LinesPoints)
      .add_series("matmul (OpenBLAS dgemm)", t.sizes, t.blas_ms, explaind::report::SeriesStyle::LinesPoints)
      .render(dir + "/matmul_time.png");
}

void save_for_numpy(const std::string& dir, const Tensor& a, const Tensor& table) {
  fmt::print("== 4. reading the results in numpy ==\n");
  save_npy(dir + "/a.npy", a);
  save_npy(dir + "/a_transposed.npy", transpose(a, 0, 1));  // a view: written in its logical order
  save_npy(dir + "/table.npy", table);
  fmt::print("    import numpy as np\n    table = np.load(\"{}/table.npy\")   # shape (12, 12), float64\n\n", dir);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "runs/course/01_tensors";
  try {
    std::filesystem::create_directories(dir);
    const Tensor a = show_views();
    const Tensor table = show_broadcasting();
    const Timing timing = race_matmul();
    save_for_numpy(dir, a, table);
    write_plots(dir, table, timing);
    fmt::print("wrote {0}/broadcast.png, {0}/matmul_time.png and three .npy files\n", dir);
  } catch (const std::exception& e) {
    fmt::print(stderr, "lesson_01_tensors: {}\n", e.what());
    return 1;
  }
  return 0;
}
