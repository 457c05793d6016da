// Matmul throughput: kernel::matmul (the framework's path: shape checks, output allocation,
// dispatch) against a direct cblas_sgemm / cblas_dgemm on the same buffers, for square sizes.
// Prints a Markdown table of GFLOP/s (2 n^3 / best time over repeated runs) and their ratio.
//
// Usage: bench_matmul [n ...]   (default sizes 64 128 256 512 1024 2048)
// Threads: whatever OpenBLAS is told (OPENBLAS_NUM_THREADS); the table header repeats it.
#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "tensor/kernels.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <class F>
double time_once(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return seconds_since(start);
}

struct Row {
  int64_t n;
  const char* dtype;
  int reps;
  double ours, blas;  // best seconds
  double max_diff;
};

// Times both paths on the same operands, interleaved (so machine noise hits both alike), and
// keeps the best of `reps` runs each; reps gives each path about two seconds in total (at
// least 7 runs), so a busy machine still leaves some undisturbed runs.
template <class T>
Row measure(int64_t n, Generator& gen) {
  const DType dtype = dtype_of<T>();
  const Tensor a = rand_uniform({n, n}, -1, 1, gen, dtype), b = rand_uniform({n, n}, -1, 1, gen, dtype);
  Tensor direct = Tensor::zeros({n, n}, dtype), ours;
  const int ni = static_cast<int>(n);
  auto run_blas = [&] {
    if constexpr (std::is_same_v<T, float>)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0f, a.data<float>(), ni, b.data<float>(), ni,
                  0.0f, direct.data<float>(), ni);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0, a.data<double>(), ni, b.data<double>(),
                  ni, 0.0, direct.data<double>(), ni);
  };
  auto run_ours = [&] { ours = kernel::matmul(a, b); };  // a fresh output every call
  run_blas();                                            // warm-up: thread start, page faults, caches
  run_ours();
  const double warm = std::max(time_once(run_blas), time_once(run_ours));
  const int reps = static_cast<int>(std::clamp(2.0 / std::max(warm, 1e-9), 7.0, 100000.0));
  double best_ours = 1e300, best_blas = 1e300;
  for (int r = 0; r < reps; ++r) {
    best_ours = std::min(best_ours, time_once(run_ours));
    best_blas = std::min(best_blas, time_once(run_blas));
  }
  const double diff = kernel::amax(kernel::abs(kernel::sub(ours, direct))).item();
  return {n, dtype_name(dtype), reps, best_ours, best_blas, diff};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) {
    char* end = nullptr;
    const long long n = std::strtoll(argv[i], &end, 10);
    if (end == argv[i] || *end != '\0' || n < 1 || n > 16384) {
      const bool help = std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h";
      fmt::print(help ? stdout : stderr,
                 "{}usage: bench_matmul [n ...]   (square sizes 1..16384; default 64 128 256 512 1024 2048)\n",
                 help ? "" : fmt::format("bench_matmul: '{}' is not a size\n", argv[i]));
      return help ? 0 : 2;
    }
    sizes.push_back(n);
  }
  if (sizes.empty()) sizes = {64, 128, 256, 512, 1024, 2048};
  const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
  fmt::print("OPENBLAS_NUM_THREADS={}, openblas_get_num_threads()={}, OpenBLAS kernels: {}\n\n",
             threads ? threads : "(unset)", openblas_get_num_threads(), openblas_get_corename());
  fmt::print(
      "| n | dtype | runs | kernel::matmul GFLOP/s | cblas direct GFLOP/s | ratio (ours / cblas) | max abs diff |\n");
  fmt::print("|---:|:---|---:|---:|---:|---:|---:|\n");
  Generator gen(2024);
  for (int64_t n : sizes)
    for (const Row& r : {measure<float>(n, gen), measure<double>(n, gen)}) {
      const double flop = 2.0 * static_cast<double>(r.n) * static_cast<double>(r.n) * static_cast<double>(r.n);
      fmt::print("| {} | {} | {} | {:.1f} | {:.1f} | {:.3f} | {:.1e} |\n", r.n, r.dtype, r.reps, flop / r.ours / 1e9,
                 flop / r.blas / 1e9, r.blas / r.ours, r.max_diff);
      std::fflush(stdout);
    }
  return 0;
}
