// Elementwise, broadcasting and reduction kernels: kernel::* (the framework's path, on
// parallel_for's threads) against the same computation written as one xtensor expression over
// as_xtensor views (tensor/xtensor_view.hpp), evaluated into a preallocated output tensor.
// Prints a Markdown table: best time of each over interleaved runs, their ratio, and whether the
// results are bit-identical.
//
// Usage: bench_kernels [threads ...]   (default 1 2; each row is measured at each count)
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xoperation.hpp>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"
#include "tensor/random.hpp"
#include "tensor/xtensor_view.hpp"

using namespace pathgrad;

namespace {

double time_once(const std::function<Tensor()>& f, Tensor& out) {
  const auto start = std::chrono::steady_clock::now();
  out = f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One benchmark: the framework kernel and its xtensor expression, on the same inputs.
struct Case {
  std::string name;  // op and shapes
  std::function<Tensor()> ours, xt;
};

// Evaluates `expression` into a fresh tensor of `shape` through an as_xtensor view of it
// (xt::noalias: straight into the view, without xtensor's temporary).
template <class T, class E>
Tensor into(const Shape& shape, E&& expression) {
  Tensor out = Tensor::empty(shape, dtype_of<T>());
  xt::noalias(as_xtensor<T>(out)) = std::forward<E>(expression);
  return out;
}

// The cases of one dtype: contiguous binary and unary ops, a unary op on a transposed view (rows
// of stride R), in-place add_ (contiguous, and transposed on both sides), a bias broadcast over
// [B, T, D], and sums over the last dim, the first dim and all dims (accumulated in double, like
// kernel::sum).
template <class T>
std::vector<Case> cases(Generator& gen) {
  const DType dt = dtype_of<T>();
  const int64_t n = int64_t{1} << 20, B = 256, L = 4, D = 128, R = 4096, C = 256;
  const Tensor a = rand_uniform({n}, -1, 1, gen, dt), b = rand_uniform({n}, -1, 1, gen, dt);
  const Tensor x = rand_uniform({B, L, D}, -1, 1, gen, dt), bias = rand_uniform({D}, -1, 1, gen, dt);
  const Tensor m = rand_uniform({R, C}, -1, 1, gen, dt), mt = kernel::transpose(m, 0, 1);
  // In-place accumulators (both variants run equally often, so they stay equal), contiguous and
  // transposed like mt.
  const Tensor acc = Tensor::zeros({n}, dt), acc_xt = Tensor::zeros({n}, dt);
  const Tensor acc_t = kernel::transpose(Tensor::zeros({R, C}, dt), 0, 1);
  const Tensor acc_xt_t = kernel::transpose(Tensor::zeros({R, C}, dt), 0, 1);
  auto va = [a] { return as_xtensor<const T>(a); };
  auto vb = [b] { return as_xtensor<const T>(b); };
  auto vm = [m] { return as_xtensor<const T>(m); };
  const std::string s1 = shape_str({n}), sm = shape_str({R, C});
  return {
      {"add " + s1, [=] { return kernel::add(a, b); }, [=] { return into<T>({n}, va() + vb()); }},
      {"mul " + s1, [=] { return kernel::mul(a, b); }, [=] { return into<T>({n}, va() * vb()); }},
      {"exp " + s1, [=] { return kernel::exp(a); }, [=] { return into<T>({n}, xt::exp(va())); }},
      {"relu " + s1, [=] { return kernel::relu(a); }, [=] { return into<T>({n}, xt::maximum(va(), T(0))); }},
      {"relu " + shape_str({R, C}) + " transposed", [=] { return kernel::relu(mt); },
       [=] {
         return into<T>({C, R}, xt::maximum(as_xtensor<const T>(mt), T(0)));
       }},
      {"add_ " + s1,
       [=] {
         kernel::add_(acc, a);
         return acc;
       },
       [=] {
         xt::noalias(as_xtensor<T>(acc_xt)) += va();
         return acc_xt;
       }},
      {"add_ " + shape_str({C, R}) + " transposed",
       [=] {
         kernel::add_(acc_t, mt);
         return acc_t;
       },
       [=] {
         xt::noalias(as_xtensor<T>(acc_xt_t)) += as_xtensor<const T>(mt);
         return acc_xt_t;
       }},
      {"add " + shape_str(x.shape()) + " + " + shape_str(bias.shape()), [=] { return kernel::add(x, bias); },
       [=] { return into<T>(x.shape(), as_xtensor<const T>(x) + as_xtensor<const T>(bias)); }},
      {"sum " + sm + " dim 1", [=] { return kernel::sum(m, {1}); },
       [=] { return into<T>({R}, xt::cast<T>(xt::sum<double>(vm(), {1}))); }},
      {"sum " + sm + " dim 0", [=] { return kernel::sum(m, {0}); },
       [=] { return into<T>({C}, xt::cast<T>(xt::sum<double>(vm(), {0}))); }},
      {"sum " + sm + " all", [=] { return kernel::sum(m); },
       [=] { return into<T>({}, xt::cast<T>(xt::sum<double>(vm()))); }},
  };
}

bool bit_identical(const Tensor& x, const Tensor& y) {
  return x.shape() == y.shape() && x.dtype() == y.dtype() &&
         std::memcmp(x.raw_data(), y.raw_data(), static_cast<size_t>(x.numel()) * dtype_size(x.dtype())) == 0;
}

// Both variants alternately, each keeping its best time; about half a second of runs each (at
// least 7), so a busy machine still leaves some undisturbed runs.
void measure(const Case& c, const char* dtype, int threads) {
  Tensor ours, xt;
  const double warm = std::max(time_once(c.ours, ours), time_once(c.xt, xt));
  const int reps = static_cast<int>(std::clamp(0.5 / std::max(warm, 1e-9), 7.0, 20000.0));
  double best_ours = 1e300, best_xt = 1e300;
  for (int r = 0; r < reps; ++r) {
    best_ours = std::min(best_ours, time_once(c.ours, ours));
    best_xt = std::min(best_xt, time_once(c.xt, xt));
  }
  fmt::print("| {} | {} | {} | {} | {:.1f} | {:.1f} | {:.2f} | {} |\n", c.name, dtype, threads, reps, best_ours * 1e6,
             best_xt * 1e6, best_xt / best_ours, bit_identical(ours, xt) ? "yes" : "no");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts;
  for (int i = 1; i < argc; ++i) thread_counts.push_back(std::atoi(argv[i]));
  if (thread_counts.empty()) thread_counts = {1, 2};
  fmt::print(
      "| kernel | dtype | threads | runs | kernel:: µs | xtensor expression µs | ratio (xtensor / kernel) "
      "| bit-identical |\n");
  fmt::print("|:---|:---|---:|---:|---:|---:|---:|:---|\n");
  Generator gen(2024);
  const std::vector<Case> f32 = cases<float>(gen), f64 = cases<double>(gen);
  for (int threads : thread_counts) {
    set_num_threads(threads);
    for (const Case& c : f32) measure(c, "float32", threads);
    for (const Case& c : f64) measure(c, "float64", threads);
  }
  return 0;
}
