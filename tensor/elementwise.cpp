// Elementwise kernels: binary ops with NumPy broadcasting, scalar ops, unary math, in-place
// updates. Every kernel walks its operands' strides row by row (a contiguous tensor is one row),
// split over parallel_for's threads (tensor/parallel.hpp). Unary, scalar and in-place kernels
// compute each row as an xtensor expression (tensor/xrow.hpp); xtensor (without xsimd) evaluates
// it with the same scalar operations (std::exp, ...) as a plain loop, so results are bit-identical
// to one. Binary kernels keep hand-written rows (measured faster: see `binary`).
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>
#include <xtensor/xvectorize.hpp>

#include "tensor/kernels.hpp"
#include "tensor/strided.hpp"
#include "tensor/xrow.hpp"

namespace pathgrad::kernel {
namespace {

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(fmt::format("{}: dtypes {} and {} differ (shapes {} and {})", op, dtype_name(a.dtype()),
                                            dtype_name(b.dtype()), shape_str(a.shape()), shape_str(b.shape())));
}

// out = f(a, b) with broadcasting; T ranges over float, double and int64_t. The walk is row by
// row (see strided.hpp) with tight loops for the common row shapes: both operands running
// (same shapes), or one of them fixed along the row (a scalar, a bias, a per-row factor).
// Hand-written rows, measured faster than xtensor's: with each row one xtensor assignment
// (tensor/xrow.hpp), add [256, 4, 128] + [128] in float32 took 2.3x as long, xtensor's fixed cost
// per assignment weighing on rows of 128 (contiguous operands, one long row, measured alike);
// `bench_kernels 1` built both ways, docs/benchmarks.md.
template <class F>
Tensor binary(const char* op, const Tensor& a, const Tensor& b, F f, bool allow_int = true) {
  check_same_dtype(op, a, b);
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(out_shape, a.dtype());
  auto run = [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    parallel_for_each_row<3>(out_shape,
                             {out.strides(), broadcast_strides(a.shape(), a.strides(), out_shape),
                              broadcast_strides(b.shape(), b.strides(), out_shape)},
                             [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& step) {
                               T* y = o + off[0];  // out is contiguous: step[0] == 1
                               const T* x1 = pa + off[1];
                               const T* x2 = pb + off[2];
                               if (step[1] == 1 && step[2] == 1) {
                                 for (int64_t i = 0; i < n; ++i) y[i] = f(x1[i], x2[i]);
                               } else if (step[1] == 1 && step[2] == 0) {
                                 const T v = *x2;
                                 for (int64_t i = 0; i < n; ++i) y[i] = f(x1[i], v);
                               } else if (step[1] == 0 && step[2] == 1) {
                                 const T v = *x1;
                                 for (int64_t i = 0; i < n; ++i) y[i] = f(v, x2[i]);
                               } else {
                                 for (int64_t i = 0; i < n; ++i) y[i] = f(x1[i * step[1]], x2[i * step[2]]);
                               }
                             });
  };
  if (a.dtype() == DType::Float32)
    run(float{});
  else if (a.dtype() == DType::Float64)
    run(double{});
  else if (a.dtype() == DType::Int64 && allow_int)
    run(int64_t{});
  else
    throw_dtype_error(op, a.dtype(), allow_int ? "float32, float64 or int64" : "float32 or float64");
  return out;
}

// out = f(a) elementwise for float tensors, f an xtensor expression of a row of a (contiguous
// tensors are one row, split over the threads).
template <class F>
Tensor unary(const char* op, const Tensor& a, F f) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  dispatch_float(a.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* pa = a.data<T>();
    parallel_for_each_row<2>(a.shape(), {out.strides(), a.strides()},
                             [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& step) {
                               T* y = o + off[0];  // out is contiguous: step[0] == 1
                               with_xrow(pa + off[1], n, step[1], [&](auto x) { xt::noalias(xrow(y, n)) = f(x); });
                             });
  });
  return out;
}

// The logistic function of one element, by the branch whose exponential cannot overflow.
template <class T>
T sigmoid_of(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary("add", a, b, [](auto x, auto y) { return x + y; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary("sub", a, b, [](auto x, auto y) { return x - y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary("mul", a, b, [](auto x, auto y) { return x * y; });
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary(
      "div", a, b, [](auto x, auto y) { return x / y; }, false);
}
Tensor pow(const Tensor& a, const Tensor& b) {
  return binary(
      "pow", a, b, [](auto x, auto y) { return static_cast<decltype(x)>(std::pow(x, y)); }, false);
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary("maximum", a, b, [](auto x, auto y) { return x > y ? x : y; });
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary("minimum", a, b, [](auto x, auto y) { return x < y ? x : y; });
}

#define PG_COMPARISON(NAME, OP)                                                                  \
  Tensor NAME(const Tensor& a, const Tensor& b) {                                                \
    return binary(#NAME, a, b, [](auto x, auto y) { return static_cast<decltype(x)>(x OP y); }); \
  }
PG_COMPARISON(eq, ==)
PG_COMPARISON(ne, !=)
PG_COMPARISON(lt, <)
PG_COMPARISON(le, <=)
PG_COMPARISON(gt, >)
PG_COMPARISON(ge, >=)
#undef PG_COMPARISON

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_same_dtype("where", a, b);
  const Shape out_shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor c = cond.to(a.dtype());
  Tensor out = Tensor::empty(out_shape, a.dtype());
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* pc = c.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    // A hand-written loop, measured faster than xtensor's: as xrow rows on parallel_for_each_row
    // (`xt::where(xt::not_equal(c, 0), a, b)`) masked_fill [512, 4, 3, 3] by [3, 3] took 7.4-7.9x
    // as long (rows of 9), where [128, 16, 32, 32] 0.98-1.02x; `bench_kernels 1 masked where`
    // built both ways.
    int64_t k = 0;
    for_each_strided3(out_shape, broadcast_strides(c.shape(), c.strides(), out_shape),
                      broadcast_strides(a.shape(), a.strides(), out_shape),
                      broadcast_strides(b.shape(), b.strides(), out_shape),
                      [&](int64_t ic, int64_t ia, int64_t ib) { o[k++] = pc[ic] != T(0) ? pa[ia] : pb[ib]; });
  });
  return out;
}

Tensor add_scalar(const Tensor& a, double s) {
  return unary("add_scalar", a, [s](auto x) { return x + elem_t<decltype(x)>(s); });
}
Tensor mul_scalar(const Tensor& a, double s) {
  return unary("mul_scalar", a, [s](auto x) { return x * elem_t<decltype(x)>(s); });
}
Tensor rsub_scalar(const Tensor& a, double s) {
  return unary("rsub_scalar", a, [s](auto x) { return elem_t<decltype(x)>(s) - x; });
}
Tensor pow_scalar(const Tensor& a, double e) {
  if (e == 2.0) return unary("pow_scalar", a, [](auto x) { return x * x; });
  return unary("pow_scalar", a, [e](auto x) { return xt::pow(x, elem_t<decltype(x)>(e)); });
}
Tensor clamp(const Tensor& a, double lo, double hi) {
  if (lo > hi) throw std::invalid_argument(fmt::format("clamp: min {} exceeds max {}", lo, hi));
  // x < lo ? lo : (x > hi ? hi : x)
  return unary("clamp", a, [lo, hi](auto x) {
    using T = elem_t<decltype(x)>;
    return xt::clip(x, T(lo), T(hi));
  });
}
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  const Shape out_shape = broadcast_shapes(a.shape(), mask.shape(), "masked_fill");
  if (out_shape != a.shape())
    throw std::invalid_argument(
        fmt::format("masked_fill: mask {} does not broadcast to {}", shape_str(mask.shape()), shape_str(a.shape())));
  return where(mask, Tensor::full({}, value, a.dtype()), a);
}

Tensor neg(const Tensor& a) {
  return unary("neg", a, [](auto x) { return -x; });
}
Tensor exp(const Tensor& a) {
  return unary("exp", a, [](auto x) { return xt::exp(x); });
}
Tensor log(const Tensor& a) {
  return unary("log", a, [](auto x) { return xt::log(x); });
}
Tensor sqrt(const Tensor& a) {
  return unary("sqrt", a, [](auto x) { return xt::sqrt(x); });
}
Tensor abs(const Tensor& a) {
  return unary("abs", a, [](auto x) { return xt::abs(x); });
}
Tensor sign(const Tensor& a) {
  // Not xt::sign, which keeps -0 and NaN: here both give +0.
  return unary("sign", a, [](auto x) {
    using T = elem_t<decltype(x)>;
    return xt::where(x > T(0), T(1), xt::where(x < T(0), T(-1), T(0)));
  });
}
Tensor tanh(const Tensor& a) {
  return unary("tanh", a, [](auto x) { return xt::tanh(x); });
}
Tensor sigmoid(const Tensor& a) {
  // xt::vectorize: one exponential per element (xt::where would evaluate both branches).
  return unary("sigmoid", a, [](auto x) { return xt::vectorize(sigmoid_of<elem_t<decltype(x)>>)(x); });
}
Tensor relu(const Tensor& a) {
  return unary("relu", a, [](auto x) { return xt::maximum(x, elem_t<decltype(x)>(0)); });  // x > 0 ? x : 0
}
Tensor step(const Tensor& a) {
  return unary("step", a, [](auto x) { return x > elem_t<decltype(x)>(0); });  // bool, stored as 1 or 0
}
Tensor relu_backward(const Tensor& grad, const Tensor& z) {
  return binary("relu_backward", grad, z, [](auto g, auto x) { return x > decltype(x)(0) ? g : decltype(g)(0); });
}

namespace {
// Calls row(offsets, n, steps) over dst's elements and K - 1 operands of its shape: on the threads
// when dst is contiguous (every element written once), else in one walk (a dst that repeats an
// element through a zero stride then adds into it in order).
template <size_t K, class Row>
void update_rows(const Tensor& dst, const std::array<Shape, K>& strides, Row&& row) {
  if (dst.is_contiguous())
    parallel_for_each_row<K>(dst.shape(), strides, row);
  else
    for_each_row<K>(dst.shape(), strides, row);
}
}  // namespace

void add_(const Tensor& dst, const Tensor& src, double alpha) {
  if (dst.shape() != src.shape())
    throw std::invalid_argument(
        fmt::format("add_: shapes {} and {} differ", shape_str(dst.shape()), shape_str(src.shape())));
  check_same_dtype("add_", dst, src);
  dispatch_float(dst.dtype(), "add_", [&](auto tag) {
    using T = decltype(tag);
    T* d = dst.data<T>();
    const T* s = src.data<T>();
    const T al = static_cast<T>(alpha);  // al * x == x when alpha is 1
    update_rows<2>(dst, {dst.strides(), src.strides()},
                   [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& step) {
                     with_xrow(s + off[1], n, step[1], [&](auto x) {
                       if (step[0] == 1)
                         xt::noalias(xrow(d + off[0], n)) += al * x;
                       else
                         xt::noalias(xrow(d + off[0], n, step[0])) += al * x;
                     });
                   });
  });
}

void add_row_scaled_(const Tensor& dst, const Tensor& t, const Tensor& src) {
  const int64_t R = dst.dim() > 0 ? dst.size(0) : 0, n = R > 0 ? dst.numel() / R : 0;
  const bool per_row = src.shape() == dst.shape();
  if (dst.dim() < 1 || !dst.is_contiguous() || t.numel() != R ||
      !(per_row || src.shape() == Shape(dst.shape().begin() + 1, dst.shape().end())))
    throw std::invalid_argument(fmt::format("add_row_scaled_: dst {} (contiguous), t {} and src {} do not fit",
                                            shape_str(dst.shape()), shape_str(t.shape()), shape_str(src.shape())));
  check_same_dtype("add_row_scaled_", dst, src);
  check_same_dtype("add_row_scaled_", dst, t);
  const Tensor s_c = src.contiguous(), t_c = t.contiguous();
  dispatch_float(dst.dtype(), "add_row_scaled_", [&](auto tag) {
    using T = decltype(tag);
    T* d = dst.data<T>();
    const T* s = s_c.data<T>();
    const T* tp = t_c.data<T>();
    parallel_for(R, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) xt::noalias(xrow(d + r * n, n)) += tp[r] * xrow(s + (per_row ? r * n : 0), n);
    });
  });
}

void mul_scalar_(const Tensor& dst, double s) {
  dispatch_float(dst.dtype(), "mul_scalar_", [&](auto tag) {
    using T = decltype(tag);
    T* d = dst.data<T>();
    const T v = static_cast<T>(s);
    update_rows<1>(dst, {dst.strides()},
                   [&](const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& step) {
                     if (step[0] == 1)
                       xt::noalias(xrow(d + off[0], n)) *= v;
                     else
                       xt::noalias(xrow(d + off[0], n, step[0])) *= v;
                   });
  });
}

}  // namespace pathgrad::kernel
