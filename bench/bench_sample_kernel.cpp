// Throughput of the sample level's kernel products, SampleBuffers::products (explaind/
// sample_buffers.hpp): K = φ · Bᵀ for M_s probe scalars, N training samples and P parameters,
// against a direct cblas_dgemm / cblas_sgemm of the same shape on the same buffers (OpenBLAS on
// its own threads). Both are timed alternately; each keeps its best time. GFLOP/s = 2·M·N·P /
// time. One JSON line per size.
//
//   ./build/bench/bench_sample_kernel --threads 2 --m 32 --n 4000 --p 89024
#include <cblas.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <iostream>
#include <limits>

#include "bench/workloads.hpp"
#include "explaind/sample_buffers.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;

namespace {

double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A layout of `count` parameter tensors of about equal size, P elements in all.
NamedTensors parameters(int64_t P, int64_t count) {
  NamedTensors out;
  for (int64_t i = 0, left = P; i < count; ++i) {
    const int64_t size = i + 1 == count ? left : P / count;
    out.emplace_back(fmt::format("p{}", i), Tensor::zeros({size}));
    left -= size;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("SampleBuffers::products against a direct BLAS GEMM of the same shape (JSON lines)");
  int threads = 1, reps = 5, tensors = 8;
  int64_t M = 32, N = 4000, P = 89024;
  std::string dtype = "float64";
  app.add_option("--threads", threads, "threads of OpenBLAS and of pathgrad's loops");
  app.add_option("--m", M, "probe scalars (sample-level)");
  app.add_option("--n", N, "training samples");
  app.add_option("--p", P, "parameters");
  app.add_option("--tensors", tensors,
                 "parameter tensors the P parameters are split into (lazy scales are per tensor)");
  app.add_option("--dtype", dtype, "buffer dtype: float64 (exact) or float32")
      ->check(CLI::IsMember({"float64", "float32"}));
  app.add_option("--reps", reps, "timed repetitions of each; the best counts");
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);

  const DType dt = dtype == "float64" ? DType::Float64 : DType::Float32;
  const explaind::ParamLayout layout(parameters(P, tensors));
  explaind::SampleBuffers buffers(N, layout, dt);
  Generator gen(3);
  // Fill the buffers through their own interface: every sample's row gets a random gradient.
  std::vector<double> ones(static_cast<size_t>(tensors), 1.0), decay(static_cast<size_t>(tensors), 0.9);
  for (int64_t i0 = 0; i0 < N; i0 += 256) {
    const int64_t b = std::min<int64_t>(256, N - i0);
    std::vector<Tensor> grads;
    for (int64_t p = 0; p < layout.count(); ++p)
      grads.push_back(rand_normal({b, layout.numel(p)}, 0.0, 1.0, gen, DType::Float64));
    buffers.add(kernel::narrow(Tensor::arange(N, DType::Int64), 0, i0, b), grads, Tensor::ones({b}, DType::Float64),
                ones);
  }
  buffers.decay(decay);  // lazy scales != 1, as during training
  const Tensor phi = rand_normal({M, P}, 0.0, 1.0, gen, DType::Float64);

  // The direct GEMM: the same stored rows, copied once into a plain buffer of the same dtype.
  const Tensor stored = buffers.state()[0].second;  // [N, P]
  const Tensor a = phi.to(dt), c = Tensor::zeros({M, N}, dt);
  // OpenBLAS runs on its own threads here (pathgrad's pool keeps it single-threaded otherwise).
  auto direct = [&] {
    openblas_set_num_threads(threads);
    if (dt == DType::Float64)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(N),
                  static_cast<int>(P), 1.0, a.data<double>(), static_cast<int>(P), stored.data<double>(),
                  static_cast<int>(P), 0.0, c.data<double>(), static_cast<int>(N));
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(N),
                  static_cast<int>(P), 1.0f, a.data<float>(), static_cast<int>(P), stored.data<float>(),
                  static_cast<int>(P), 0.0f, c.data<float>(), static_cast<int>(N));
    openblas_set_num_threads(1);
  };
  Tensor k;
  auto ours = [&] { k = buffers.products(phi); };
  double best_ours = std::numeric_limits<double>::infinity(), best_direct = best_ours;
  ours();
  direct();
  for (int r = 0; r < reps; ++r) {
    best_ours = std::min(best_ours, seconds(ours));
    best_direct = std::min(best_direct, seconds(direct));
  }
  const double flop = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(P);
  std::cout << fmt::format(
      "{{\"m\": {}, \"n\": {}, \"p\": {}, \"dtype\": \"{}\", \"threads\": {}, \"products_ms\": {:.2f}, "
      "\"products_gflops\": {:.2f}, "
      "\"direct_ms\": {:.2f}, \"direct_gflops\": {:.2f}, \"ratio\": {:.3f}, \"machine\": \"{}\"}}\n",
      M, N, P, dtype, threads, best_ours * 1e3, flop / best_ours / 1e9, best_direct * 1e3, flop / best_direct / 1e9,
      best_direct / best_ours, bench::machine_line());
  return 0;
}
