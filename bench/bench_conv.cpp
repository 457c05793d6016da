// The CIFAR-2 ResNet-9's 3×3 stride-1 convolutions (examples/cifar2/model.cpp) in float32, each by
// the lowering (kernel::conv2d_lowered_*) and by Winograd F(2×2, 3×3) (kernel::conv2d_winograd_*)
// in turn: forward, and backward with both gradients. Prints a Markdown table of best times per
// layer, the network's total (each layer times its count) and the ratios Winograd / lowering.
//
// Usage: bench_conv [--width W] [--batch N] [--threads T] [--reps R]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <vector>

#include "bench/workloads.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

namespace {

struct Layer {
  const char* name;
  int64_t count, C, O, H, pad;
};

struct Times {
  double lowered_fwd, winograd_fwd, lowered_bwd, winograd_bwd;  // seconds, best of reps
};

Times time_layer(const Layer& l, int64_t batch, int reps, Generator& gen) {
  const K::Conv2dGeometry g{3, 3, 1, 1, l.pad, l.pad};
  const int64_t L = g.out_h(l.H) * g.out_w(l.H);
  const Tensor x = rand_normal({batch, l.C, l.H, l.H}, 0, 1, gen, DType::Float32);  // [N, C, H, H]
  const Tensor w = rand_normal({l.O, l.C * 9}, 0, 1, gen, DType::Float32);          // [O, C·9]
  const Tensor gr = rand_normal({batch, l.O, L}, 0, 1, gen, DType::Float32);        // [N, O, L]
  const auto best = [reps](auto&& f) { return bench::best_seconds_per_call(f, 1, 1, reps); };
  return {best([&] { K::conv2d_lowered_forward(x, w, g); }), best([&] { K::conv2d_winograd_forward(x, w, g); }),
          best([&] { K::conv2d_lowered_backward(x, w, gr, g, true, true); }),
          best([&] { K::conv2d_winograd_backward(x, w, gr, g, true, true); })};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t width = 16, batch = 128;
  int threads = 1, reps = 5;
  CLI::App app("3x3 stride-1 convolutions of the CIFAR-2 ResNet-9: lowering against Winograd (Markdown table)");
  app.add_option("--width", width, "width w of the ResNet-9 (its layers have 2w and 4w channels)")
      ->check(CLI::Range(4, 256));
  app.add_option("--batch", batch, "batch size")->check(CLI::Range(1, 4096));
  app.add_option("--threads", threads, "threads of OpenBLAS and pathgrad's loops")->check(CLI::Range(1, 256));
  app.add_option("--reps", reps, "timed calls per kernel; the best one counts")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);
  const int64_t w = width;
  const std::vector<Layer> layers = {{"res1 (×2)", 2, 2 * w, 2 * w, 16, 1},
                                     {"conv3", 1, 2 * w, 4 * w, 16, 1},
                                     {"res2 (×2)", 2, 4 * w, 4 * w, 8, 1},
                                     {"conv4", 1, 4 * w, 2 * w, 8, 0}};
  fmt::print("width {}, batch {}, {} thread(s), best of {}; {}\n\n", width, batch, threads, reps,
             bench::machine_line());
  fmt::print(
      "| layer | C → O, H×W | forward lowered ms | Winograd ms | ratio | backward lowered ms | Winograd ms | ratio "
      "|\n");
  fmt::print("|---|---|---:|---:|---:|---:|---:|---:|\n");
  Generator gen(1);
  Times total{0, 0, 0, 0};
  for (const Layer& l : layers) {
    const Times t = time_layer(l, batch, reps, gen);
    fmt::print("| {} | {} → {}, {}×{} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} |\n", l.name, l.C, l.O, l.H,
               l.H, 1e3 * t.lowered_fwd, 1e3 * t.winograd_fwd, t.winograd_fwd / t.lowered_fwd, 1e3 * t.lowered_bwd,
               1e3 * t.winograd_bwd, t.winograd_bwd / t.lowered_bwd);
    total.lowered_fwd += l.count * t.lowered_fwd, total.winograd_fwd += l.count * t.winograd_fwd;
    total.lowered_bwd += l.count * t.lowered_bwd, total.winograd_bwd += l.count * t.winograd_bwd;
  }
  fmt::print("| network (each layer × its count) | | {:.1f} | {:.1f} | {:.2f} | {:.1f} | {:.1f} | {:.2f} |\n",
             1e3 * total.lowered_fwd, 1e3 * total.winograd_fwd, total.winograd_fwd / total.lowered_fwd,
             1e3 * total.lowered_bwd, 1e3 * total.winograd_bwd, total.winograd_bwd / total.lowered_bwd);
}
