// The CIFAR-2 ResNet-9's convolutions (examples/cifar2/model.cpp) in float32, each by the lowering
// (kernel::conv2d_lowered_*) and by what kernel::conv2d_forward / conv2d_backward dispatch to
// (Winograd F(2×2, 3×3) for the 3×3 stride-1 layers, Winograd over the input's phases for the 5×5
// stride-2 conv2, the lowering for conv1's 3 channels) in turn: forward, and backward with both
// gradients (conv1: the weight's alone, as in training). Prints a Markdown table of best times per
// layer, the network's total (each layer times its count) and the ratios dispatched / lowering.
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
  int64_t count, C, O, H, kernel, stride, pad;
  bool input_grad;  // false for conv1, whose input (the images) needs none
};

struct Times {
  double lowered_fwd, dispatched_fwd, lowered_bwd, dispatched_bwd;  // seconds, best of reps
};

Times time_layer(const Layer& l, int64_t batch, int reps, Generator& gen) {
  const K::Conv2dGeometry g{l.kernel, l.kernel, l.stride, l.stride, l.pad, l.pad};
  const int64_t L = g.out_h(l.H) * g.out_w(l.H), CKK = l.C * l.kernel * l.kernel;
  const Tensor x = rand_normal({batch, l.C, l.H, l.H}, 0, 1, gen, DType::Float32);  // [N, C, H, H]
  const Tensor w = rand_normal({l.O, CKK}, 0, 1, gen, DType::Float32);              // [O, C·k·k]
  const Tensor gr = rand_normal({batch, l.O, L}, 0, 1, gen, DType::Float32);        // [N, O, L]
  const auto best = [reps](auto&& f) { return bench::best_seconds_per_call(f, 1, 1, reps); };
  return {best([&] { K::conv2d_lowered_forward(x, w, g); }), best([&] { K::conv2d_forward(x, w, g); }),
          best([&] { K::conv2d_lowered_backward(x, w, gr, g, l.input_grad, true); }),
          best([&] { K::conv2d_backward(x, w, gr, g, l.input_grad, true); })};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t width = 16, batch = 128;
  int threads = 1, reps = 5;
  CLI::App app(
      "the CIFAR-2 ResNet-9's convolutions: lowering against conv2d_forward/backward's choice (Markdown table)");
  app.add_option("--width", width, "width w of the ResNet-9 (its layers have 2w and 4w channels)")
      ->check(CLI::Range(4, 256));
  app.add_option("--batch", batch, "batch size")->check(CLI::Range(1, 4096));
  app.add_option("--threads", threads, "threads of OpenBLAS and pathgrad's loops")->check(CLI::Range(1, 256));
  app.add_option("--reps", reps, "timed calls per kernel; the best one counts")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);
  const int64_t w = width;
  const std::vector<Layer> layers = {{"conv1", 1, 3, w, 32, 3, 1, 1, false},
                                     {"conv2", 1, w, 2 * w, 32, 5, 2, 2, true},
                                     {"res1 (×2)", 2, 2 * w, 2 * w, 16, 3, 1, 1, true},
                                     {"conv3", 1, 2 * w, 4 * w, 16, 3, 1, 1, true},
                                     {"res2 (×2)", 2, 4 * w, 4 * w, 8, 3, 1, 1, true},
                                     {"conv4", 1, 4 * w, 2 * w, 8, 3, 1, 0, true}};
  fmt::print("width {}, batch {}, {} thread(s), best of {}; {}\n\n", width, batch, threads, reps,
             bench::machine_line());
  fmt::print(
      "| layer | C → O, H×W, k/stride | forward lowered ms | dispatched ms | ratio | backward lowered ms | dispatched "
      "ms | ratio |\n");
  fmt::print("|---|---|---:|---:|---:|---:|---:|---:|\n");
  Generator gen(1);
  Times total{0, 0, 0, 0};
  for (const Layer& l : layers) {
    const Times t = time_layer(l, batch, reps, gen);
    fmt::print("| {} | {} → {}, {}×{}, {}/{} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} |\n", l.name, l.C,
               l.O, l.H, l.H, l.kernel, l.stride, 1e3 * t.lowered_fwd, 1e3 * t.dispatched_fwd,
               t.dispatched_fwd / t.lowered_fwd, 1e3 * t.lowered_bwd, 1e3 * t.dispatched_bwd,
               t.dispatched_bwd / t.lowered_bwd);
    total.lowered_fwd += l.count * t.lowered_fwd, total.dispatched_fwd += l.count * t.dispatched_fwd;
    total.lowered_bwd += l.count * t.lowered_bwd, total.dispatched_bwd += l.count * t.dispatched_bwd;
  }
  fmt::print("| network (each layer × its count) | | {:.1f} | {:.1f} | {:.2f} | {:.1f} | {:.1f} | {:.2f} |\n",
             1e3 * total.lowered_fwd, 1e3 * total.dispatched_fwd, total.dispatched_fwd / total.lowered_fwd,
             1e3 * total.lowered_bwd, 1e3 * total.dispatched_bwd, total.dispatched_bwd / total.lowered_bwd);
}
