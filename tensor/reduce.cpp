// Reductions (sum, mean, max/min and their arg versions, logsumexp) over any set of dims, and the
// stable softmax / log-softmax. Sums accumulate in double, also for float32 tensors. Outputs (or
// rows) are split over parallel_for's threads; each output keeps its order of additions.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"
#include "tensor/strided.hpp"

namespace pathgrad::kernel {
namespace {

struct ReducePlan {
  std::vector<bool> reduced;  // per input dim
  Shape out_shape;            // with keepdim applied
  Shape kept_shape;           // the kept dims only
  int64_t inner = 1;          // number of elements reduced into each output
  Tensor view;                // input permuted to (kept dims..., reduced dims...)
};

ReducePlan plan_reduce(const char* op, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p;
  const int64_t nd = a.dim();
  p.reduced.assign(nd, dims.empty());
  for (int64_t d : dims) {
    const int64_t n = normalize_dim(d, nd, op);
    if (p.reduced[n] && !dims.empty()) throw std::invalid_argument(fmt::format("{}: dim {} listed twice", op, d));
    p.reduced[n] = true;
  }
  std::vector<int64_t> order;
  for (int64_t d = 0; d < nd; ++d)
    if (!p.reduced[d]) {
      order.push_back(d);
      p.kept_shape.push_back(a.shape()[d]);
    }
  for (int64_t d = 0; d < nd; ++d)
    if (p.reduced[d]) {
      order.push_back(d);
      p.inner *= a.shape()[d];
    }
  for (int64_t d = 0; d < nd; ++d) {
    if (!p.reduced[d])
      p.out_shape.push_back(a.shape()[d]);
    else if (keepdim)
      p.out_shape.push_back(1);
  }
  p.view = permute(a, order);
  return p;
}

// Calls body(out_index, x) per output, where x points at the `inner` reduced elements of that
// output, contiguous (the permuted view is copied when it is not already laid out that way).
// Outputs are split over parallel_for's threads; body must only write its own output.
template <class T, class Body>
void for_each_output(const ReducePlan& p, Body body) {
  const Tensor c = p.view.contiguous();
  const T* in = c.data<T>();
  const int64_t n_out = numel(p.kept_shape);
  parallel_for(n_out, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(p.inner, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t o = begin; o < end; ++o) body(o, in + o * p.inner);
               });
}

// A contiguous tensor whose reduced dims are one consecutive block is [outer, R, inner]: each
// output row can then add R whole input rows of `inner` elements, without copying the input.
struct Block {
  int64_t outer = 1, reduced = 1, inner = 1;
};
std::optional<Block> reduced_block(const Tensor& a, const std::vector<bool>& reduced) {
  if (!a.is_contiguous()) return std::nullopt;
  const auto first = std::find(reduced.begin(), reduced.end(), true);
  const auto end = std::find(first, reduced.end(), false);
  if (std::find(end, reduced.end(), true) != reduced.end()) return std::nullopt;  // two blocks
  Block b;
  for (int64_t d = 0; d < a.dim(); ++d) {
    const auto at = reduced.begin() + d;
    (at < first ? b.outer : at < end ? b.reduced : b.inner) *= a.size(d);
  }
  return b;
}

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p = plan_reduce("sum", a, dims, keepdim);
  Tensor out = Tensor::empty(p.out_shape, a.dtype());
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    T* o = out.data<T>();
    // Each output adds its reduced elements in the same (row-major) order on both paths.
    // Hand-written loops, measured faster than xtensor's: with xrow expressions (each reduced row
    // `xt::noalias(acc) += row`, each output `xt::sum<Acc>(row)`) [4096, 256] took 1.17x / 1.11x
    // as long over dim 0 and 1.09x / 1.02x over dim 1 (float32 / float64), and xt::sum over an
    // as_xtensor view 1.1x to 44x; `bench_kernels 1` built both ways, docs/benchmarks.md.
    const std::optional<Block> block = reduced_block(a, p.reduced);
    if (block && block->inner > 1) {
      // Outputs [outer, inner]: chunks of whole output rows, or of columns when there is one row.
      const T* in = a.data<T>();
      const int64_t R = block->reduced, I = block->inner;
      auto rows = [&](int64_t q, int64_t j0, int64_t j1) {
        std::vector<Acc> acc(static_cast<size_t>(j1 - j0), Acc(0));
        for (int64_t r = 0; r < R; ++r) {
          const T* row = in + (q * R + r) * I;
          for (int64_t j = j0; j < j1; ++j) acc[j - j0] += static_cast<Acc>(row[j]);
        }
        for (int64_t j = j0; j < j1; ++j) o[q * I + j] = static_cast<T>(acc[j - j0]);
      };
      const int64_t per_output = std::max<int64_t>(R, 1);
      if (block->outer > 1)
        parallel_for(block->outer, std::max<int64_t>(1, kParallelGrain / (per_output * I)),
                     [&](int64_t q0, int64_t q1) {
                       for (int64_t q = q0; q < q1; ++q) rows(q, 0, I);
                     });
      else
        parallel_for(I, std::max<int64_t>(16, kParallelGrain / per_output),
                     [&](int64_t j0, int64_t j1) { rows(0, j0, j1); });
      return;
    }
    for_each_output<T>(p, [&](int64_t oi, const T* x) {
      Acc s = 0;
      for (int64_t k = 0; k < p.inner; ++k) s += static_cast<Acc>(x[k]);
      o[oi] = static_cast<T>(s);
    });
  });
  return out;
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  if (!a.is_floating_point()) throw_dtype_error("mean", a.dtype(), "float32 or float64");
  ReducePlan p = plan_reduce("mean", a, dims, keepdim);
  if (p.inner == 0) throw std::invalid_argument("mean: reducing over an empty dimension");
  return mul_scalar(sum(a, dims, keepdim), 1.0 / static_cast<double>(p.inner));
}

namespace {
template <bool Max>
Tensor extreme(const char* op, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p = plan_reduce(op, a, dims, keepdim);
  if (p.inner == 0) throw std::invalid_argument(fmt::format("{}: reducing over an empty dimension", op));
  Tensor out = Tensor::empty(p.out_shape, a.dtype());
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    // A hand-written loop, measured faster than xtensor's: per output an xt::reduce by std::max over
    // an xrow took 1.02-1.23x as long on [512, 113] dim 1, 0.98-1.00x over all of [128, 16, 32, 32]
    // (xt::amax is not a candidate: it lets NaN through); `bench_kernels 1 amax` built both ways.
    for_each_output<T>(p, [&](int64_t oi, const T* x) {
      T best = x[0];
      for (int64_t k = 1; k < p.inner; ++k) best = Max ? std::max(best, x[k]) : std::min(best, x[k]);
      o[oi] = best;
    });
  });
  return out;
}

template <bool Max>
Tensor arg_extreme(const char* op, const Tensor& a, int64_t dim, bool keepdim) {
  ReducePlan p = plan_reduce(op, a, {dim}, keepdim);
  if (p.inner == 0) throw std::invalid_argument(fmt::format("{}: reducing over an empty dimension", op));
  Tensor out = Tensor::empty(p.out_shape, DType::Int64);
  int64_t* o = out.data<int64_t>();
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // A hand-written loop, measured faster than xt::argmax (std::max_element) over an xrow per output:
    // that took 1.10-1.12x as long on [512, 113] dim 1; `bench_kernels 1 argmax` built both ways.
    for_each_output<T>(p, [&](int64_t oi, const T* x) {
      int64_t best = 0;  // first occurrence wins, as in NumPy
      for (int64_t k = 1; k < p.inner; ++k)
        if (Max ? x[k] > x[best] : x[k] < x[best]) best = k;
      o[oi] = best;
    });
  });
  return out;
}
}  // namespace

Tensor amax(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme<true>("amax", a, dims, keepdim);
}
Tensor amin(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme<false>("amin", a, dims, keepdim);
}
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) { return arg_extreme<true>("argmax", a, dim, keepdim); }
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim) { return arg_extreme<false>("argmin", a, dim, keepdim); }

Tensor logsumexp(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p = plan_reduce("logsumexp", a, dims, keepdim);
  if (p.inner == 0) throw std::invalid_argument("logsumexp: reducing over an empty dimension");
  Tensor out = Tensor::empty(p.out_shape, a.dtype());
  dispatch_float(a.dtype(), "logsumexp", [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    // Hand-written loops, measured faster than xtensor's: with the row's max and
    // `xt::sum<double>(xt::exp(xt::cast<double>(row - m)))` over an xrow (same order of additions)
    // [512, 113] dim 1 took 1.08-1.16x as long; `bench_kernels 1 logsumexp` built both ways.
    for_each_output<T>(p, [&](int64_t oi, const T* x) {
      T m = x[0];
      for (int64_t k = 1; k < p.inner; ++k) m = std::max(m, x[k]);
      if (std::isinf(m)) {
        o[oi] = m;
        return;
      }
      double s = 0;
      for (int64_t k = 0; k < p.inner; ++k) s += std::exp(static_cast<double>(x[k] - m));
      o[oi] = static_cast<T>(static_cast<double>(m) + std::log(s));
    });
  });
  return out;
}

namespace {
// Applies a row function along `dim`: moves dim last, runs f(row_in, row_out, n), moves it back.
// Rows are split over parallel_for's threads; f gets a scratch vector of its chunk.
// softmax and log_softmax keep hand-written rows, measured faster than xtensor's: as xrow
// expressions (max, exponentials, sum, scaling: the same order of additions) softmax [512, 4, 3, 3]
// dim 3 took 3.4-3.6x as long (rows of 3; as one [rows, n] expression per chunk 1.6-1.7x),
// log_softmax [512, 113] dim 1 1.12-1.20x; `bench_kernels 1 softmax log_softmax` built both ways.
template <class F>
Tensor along_dim(const char* op, const Tensor& a, int64_t dim, F f) {
  const int64_t d = normalize_dim(dim, a.dim(), op);
  const int64_t last = a.dim() - 1;
  Tensor moved = d == last ? a.contiguous() : transpose(a, d, last).contiguous();
  Tensor out = Tensor::empty(moved.shape(), a.dtype());
  const int64_t n = moved.shape()[last];
  const int64_t rows = n == 0 ? 0 : moved.numel() / n;
  dispatch_float(a.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* in = moved.data<T>();
    T* o = out.data<T>();
    parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1) / 8), [&](int64_t r0, int64_t r1) {
      std::vector<double> scratch;
      for (int64_t r = r0; r < r1; ++r) f(in + r * n, o + r * n, n, scratch);
    });
  });
  return d == last ? out : transpose(out, d, last).contiguous();
}
}  // namespace

Tensor softmax(const Tensor& a, int64_t dim) {
  return along_dim("softmax", a, dim,
                   [](const auto* x, auto* y, int64_t n, std::vector<double>& e) {  // e: exponentials
                     using T = std::remove_const_t<std::remove_pointer_t<decltype(x)>>;
                     T m = x[0];
                     for (int64_t k = 1; k < n; ++k) m = std::max(m, x[k]);
                     e.resize(static_cast<size_t>(n));
                     double s = 0;
                     for (int64_t k = 0; k < n; ++k) s += (e[k] = std::exp(static_cast<double>(x[k] - m)));
                     const double inv = 1.0 / s;
                     for (int64_t k = 0; k < n; ++k) y[k] = static_cast<T>(e[k] * inv);
                   });
}

Tensor log_softmax(const Tensor& a, int64_t dim) {
  return along_dim("log_softmax", a, dim, [](const auto* x, auto* y, int64_t n, std::vector<double>&) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(x)>>;
    T m = x[0];
    for (int64_t k = 1; k < n; ++k) m = std::max(m, x[k]);
    double s = 0;
    for (int64_t k = 0; k < n; ++k) s += std::exp(static_cast<double>(x[k] - m));
    const double lse = static_cast<double>(m) + std::log(s);
    for (int64_t k = 0; k < n; ++k) y[k] = static_cast<T>(static_cast<double>(x[k]) - lse);
  });
}

namespace {
// One row's KL(p || q) as a sum of non-negative terms q - p + p log(p/q) = p (e^(-d) - 1 + d),
// d = log p - log q, in double; q_k where p_k = 0. Each term is clamped at 0 against a last-ulp
// error of expm1.
template <class T>
double kl_row(const T* log_p, const T* log_q, int64_t n) {
  double s = 0;
  for (int64_t k = 0; k < n; ++k) {
    const double lp = static_cast<double>(log_p[k]), lq = static_cast<double>(log_q[k]);
    if (lp == -std::numeric_limits<double>::infinity()) {
      s += std::exp(lq);
      continue;
    }
    const double d = lp - lq;
    s += std::exp(lp) * std::max(0.0, std::expm1(-d) + d);
  }
  return s;
}
}  // namespace

Tensor kl_div_log(const Tensor& log_p, const Tensor& log_q, int64_t dim) {
  if (log_p.shape() != log_q.shape() || log_p.dtype() != log_q.dtype())
    throw std::invalid_argument(fmt::format("kl_div_log: log_p {} {} and log_q {} {} differ in shape or dtype",
                                            shape_str(log_p.shape()), dtype_name(log_p.dtype()),
                                            shape_str(log_q.shape()), dtype_name(log_q.dtype())));
  const int64_t d = normalize_dim(dim, log_p.dim(), "kl_div_log");
  // The other dims in their order, then dim: rows of n contiguous log-probabilities.
  std::vector<int64_t> order;
  Shape out_shape;
  for (int64_t k = 0; k < log_p.dim(); ++k)
    if (k != d) {
      order.push_back(k);
      out_shape.push_back(log_p.shape()[k]);
    }
  order.push_back(d);
  const Tensor p = permute(log_p, order).contiguous(), q = permute(log_q, order).contiguous();
  const int64_t n = log_p.shape()[d], rows = numel(out_shape);
  Tensor out = Tensor::empty(out_shape, log_p.dtype());
  dispatch_float(log_p.dtype(), "kl_div_log", [&](auto tag) {
    using T = decltype(tag);
    const T *pp = p.data<T>(), *qq = q.data<T>();
    T* o = out.data<T>();
    for (int64_t r = 0; r < rows; ++r) o[r] = static_cast<T>(kl_row(pp + r * n, qq + r * n, n));
  });
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  if (lead < 0)
    throw std::invalid_argument(
        fmt::format("sum_to: cannot reduce {} to {}", shape_str(grad.shape()), shape_str(shape)));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < lead; ++d) dims.push_back(d);
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t gs = grad.shape()[lead + static_cast<int64_t>(d)];
    if (shape[d] == 1 && gs != 1)
      dims.push_back(lead + static_cast<int64_t>(d));
    else if (shape[d] != gs)
      throw std::invalid_argument(
          fmt::format("sum_to: cannot reduce {} to {}", shape_str(grad.shape()), shape_str(shape)));
  }
  Tensor s = dims.empty() ? grad : sum(grad, dims, true);
  // Drop the leading dims that were summed with keepdim.
  return reshape(s.contiguous(), shape);
}

}  // namespace pathgrad::kernel
