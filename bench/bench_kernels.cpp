// Elementwise, broadcasting and reduction kernels: kernel::* (the framework's path, on
// parallel_for's threads) against the same computation written as one xtensor expression over
// as_xtensor views (tensor/xtensor_view.hpp), evaluated into a preallocated output tensor.
// Prints a Markdown table: best time of each over interleaved runs, their ratio, and whether the
// results are bit-identical.
//
// Usage: bench_kernels [threads ...] [name ...]
//   threads: default 1 2, each row is measured at each count; names: only the rows whose kernel
//   starts with one of them (`bench_kernels 1 softmax cat`), default all.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xindex_view.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xoperation.hpp>
#include <xtensor/xsort.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

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

// Uniform int64 indices in [0, n) of `shape`.
Tensor ids_below(int64_t n, const Shape& shape, Generator& gen) {
  return rand_uniform(shape, 0, static_cast<double>(n), gen, DType::Float64).to(DType::Int64);  // truncated
}

// The masking, max/argmax, softmax and copying kernels, at the sizes of the workloads that call
// them: the grokking transformer (p = 113: batches of B = 512 rows of 3 tokens, d_model 128 in 4
// heads of 32, attention scores [B, 4, 3, 3], logits [B, 113]) and the CIFAR CNN (batches of 128,
// activations [128, 16, 32, 32]). The xtensor side is each op's natural whole-expression form.
template <class T>
std::vector<Case> workload_cases(Generator& gen) {
  const DType dt = dtype_of<T>();
  const int64_t B = 512, H = 4, S = 3, Dh = 32, D = H * Dh, P = 113, N = 128, Cn = 16, W = 32;
  const T inf = std::numeric_limits<T>::infinity();
  const Tensor scores = rand_uniform({B, H, S, S}, -1, 1, gen, dt);
  const Tensor causal = kernel::lt(rand_uniform({S, S}, 0, 1, gen, dt), Tensor::full({}, 0.5, dt));  // 1 or 0
  const Tensor act = rand_uniform({N, Cn, W, W}, -1, 1, gen, dt), act2 = rand_uniform({N, Cn, W, W}, -1, 1, gen, dt);
  const Tensor cond = kernel::gt(act2, Tensor::zeros({}, dt));
  const Tensor logits = rand_uniform({B, P}, -8, 8, gen, dt);
  const Tensor heads = rand_uniform({B, H, S, Dh}, -1, 1, gen, dt);  // [B, H, T, Dh]
  const Tensor merged = kernel::permute(heads, {0, 2, 1, 3});        // [B, T, H, Dh], not contiguous
  std::vector<Tensor> head_parts;                                    // H x [B, T, Dh]
  for (int64_t h = 0; h < H; ++h) head_parts.push_back(rand_uniform({B, S, Dh}, -1, 1, gen, dt));
  const std::vector<Tensor> logit_parts = {logits, rand_uniform({B, P}, -8, 8, gen, dt)};
  const Tensor images = rand_uniform({16 * N, 3, W, W}, -1, 1, gen, dt);
  const Tensor batch_ids = kernel::narrow(randperm(16 * N, gen), 0, 0, N);
  const Tensor token_ids = ids_below(P, {B, S}, gen), targets = ids_below(P, {B, 1}, gen);
  const Tensor embed = rand_uniform({P, D}, -1, 1, gen, dt);
  const auto ids_of = [](const Tensor& ids) {
    const std::vector<double> v = ids.to_vector();
    return std::vector<std::size_t>(v.begin(), v.end());
  };
  const std::vector<std::size_t> batch_rows = ids_of(batch_ids), token_rows = ids_of(token_ids);
  auto v = [](const Tensor& t) { return as_xtensor<const T>(t); };
  // The max along the last axis with keepdim, evaluated (reused by every element of a row).
  auto row_max = [](auto x) { return xt::xarray<T>(xt::amax(x, {x.dimension() - 1}, xt::keep_dims)); };
  return {
      {"masked_fill " + shape_str(scores.shape()) + " mask " + shape_str(causal.shape()),
       [=] { return kernel::masked_fill(scores, causal, -inf); },
       [=] { return into<T>(scores.shape(), xt::where(xt::not_equal(v(causal), T(0)), -inf, v(scores))); }},
      {"where " + shape_str(act.shape()), [=] { return kernel::where(cond, act, act2); },
       [=] { return into<T>(act.shape(), xt::where(xt::not_equal(v(cond), T(0)), v(act), v(act2))); }},
      {"amax " + shape_str(logits.shape()) + " dim 1", [=] { return kernel::amax(logits, {1}); },
       [=] { return into<T>({B}, xt::amax(v(logits), {1})); }},
      {"amax " + shape_str(act.shape()) + " all", [=] { return kernel::amax(act); },
       [=] { return into<T>({}, xt::amax(v(act))); }},
      {"argmax " + shape_str(logits.shape()) + " dim 1", [=] { return kernel::argmax(logits, 1); },
       [=] { return into<int64_t>({B}, xt::cast<int64_t>(xt::argmax(v(logits), 1))); }},
      {"logsumexp " + shape_str(logits.shape()) + " dim 1", [=] { return kernel::logsumexp(logits, {1}); },
       [=] {
         const xt::xarray<T> m = row_max(v(logits));
         return into<T>({B}, xt::cast<T>(xt::cast<double>(xt::view(m, xt::all(), 0)) +
                                         xt::log(xt::sum<double>(xt::exp(xt::cast<double>(v(logits) - m)), {1}))));
       }},
      {"softmax " + shape_str(scores.shape()) + " dim 3", [=] { return kernel::softmax(scores, 3); },
       [=] {
         const xt::xarray<double> e = xt::exp(xt::cast<double>(v(scores) - row_max(v(scores))));
         const xt::xarray<double> inv = 1.0 / xt::sum(e, {3}, xt::keep_dims);
         return into<T>(scores.shape(), xt::cast<T>(e * inv));
       }},
      {"log_softmax " + shape_str(logits.shape()) + " dim 1", [=] { return kernel::log_softmax(logits, 1); },
       [=] {
         const xt::xarray<T> m = row_max(v(logits));
         const xt::xarray<double> lse =
             xt::cast<double>(m) +
             xt::log(xt::sum<double>(xt::exp(xt::cast<double>(v(logits) - m)), {1}, xt::keep_dims));
         return into<T>(logits.shape(), xt::cast<T>(xt::cast<double>(v(logits)) - lse));
       }},
      {"cat 2 x " + shape_str(logits.shape()) + " dim 0", [=] { return kernel::cat(logit_parts, 0); },
       [=] {
         return into<T>({2 * B, P}, xt::concatenate(xt::xtuple(v(logit_parts[0]), v(logit_parts[1])), 0));
       }},
      {"cat 4 x " + shape_str(head_parts[0].shape()) + " dim 2", [=] { return kernel::cat(head_parts, 2); },
       [=] {
         return into<T>(
             {B, S, D},
             xt::concatenate(xt::xtuple(v(head_parts[0]), v(head_parts[1]), v(head_parts[2]), v(head_parts[3])), 2));
       }},
      {"stack 4 x " + shape_str(head_parts[0].shape()) + " dim 1", [=] { return kernel::stack(head_parts, 1); },
       [=] {
         return into<T>(
             {B, H, S, Dh},
             xt::stack(xt::xtuple(v(head_parts[0]), v(head_parts[1]), v(head_parts[2]), v(head_parts[3])), 1));
       }},
      {"reshape " + shape_str(merged.shape()) + " permuted to [512, 3, 128]",
       [=] {
         return kernel::reshape(merged, {B, S, D});
       },
       [=] {
         return kernel::reshape(into<T>(merged.shape(), v(merged)), {B, S, D});
       }},
      {"index_select " + shape_str(images.shape()) + " dim 0, " + std::to_string(N) + " rows",
       [=] { return kernel::index_select(images, 0, batch_ids); },
       [=] {
         return into<T>({N, 3, W, W}, xt::view(v(images), xt::keep(batch_rows)));
       }},
      {"embedding " + shape_str(embed.shape()) + " ids " + shape_str(token_ids.shape()),
       [=] { return kernel::embedding(embed, token_ids); },
       [=] {
         return kernel::reshape(into<T>({B * S, D}, xt::view(v(embed), xt::keep(token_rows))), {B, S, D});
       }},
      {"gather " + shape_str(logits.shape()) + " dim 1 index " + shape_str(targets.shape()),
       [=] { return kernel::gather(logits, 1, targets); },
       [=] {
         std::vector<xt::xindex> at(static_cast<std::size_t>(B));  // (row, target) of each row
         const int64_t* t = targets.data<int64_t>();
         for (int64_t i = 0; i < B; ++i) at[i] = {static_cast<std::size_t>(i), static_cast<std::size_t>(t[i])};
         return into<T>({B, 1}, xt::reshape_view(xt::index_view(v(logits), at), {B, int64_t{1}}));
       }},
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
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    if (std::isdigit(static_cast<unsigned char>(argv[i][0])))
      thread_counts.push_back(std::atoi(argv[i]));
    else
      names.emplace_back(argv[i]);
  }
  if (thread_counts.empty()) thread_counts = {1, 2};
  const auto chosen = [&](const Case& c) {
    return names.empty() ||
           std::any_of(names.begin(), names.end(), [&](const std::string& n) { return c.name.rfind(n, 0) == 0; });
  };
  fmt::print(
      "| kernel | dtype | threads | runs | kernel:: µs | xtensor expression µs | ratio (xtensor / kernel) "
      "| bit-identical |\n");
  fmt::print("|:---|:---|---:|---:|---:|---:|---:|:---|\n");
  Generator gen(2024);
  std::vector<Case> f32 = cases<float>(gen), f64 = cases<double>(gen);
  for (Case& c : workload_cases<float>(gen)) f32.push_back(std::move(c));
  for (Case& c : workload_cases<double>(gen)) f64.push_back(std::move(c));
  for (int threads : thread_counts) {
    set_num_threads(threads);
    for (const Case& c : f32)
      if (chosen(c)) measure(c, "float32", threads);
    for (const Case& c : f64)
      if (chosen(c)) measure(c, "float64", threads);
  }
  return 0;
}
