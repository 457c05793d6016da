// Elementwise kernels: binary ops with NumPy broadcasting, scalar ops, unary math, in-place
// updates. Contiguous inputs take a flat loop; everything else walks strides row by row. Both
// split their elements over parallel_for's threads (tensor/parallel.hpp).
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "tensor/kernels.hpp"
#include "tensor/strided.hpp"

namespace pathgrad::kernel {
namespace {

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(fmt::format("{}: dtypes {} and {} differ (shapes {} and {})", op,
                                            dtype_name(a.dtype()), dtype_name(b.dtype()),
                                            shape_str(a.shape()), shape_str(b.shape())));
}

// out = f(a, b) with broadcasting; T ranges over float, double and int64_t. The walk is row by
// row (see strided.hpp) with tight loops for the common row shapes: both operands running
// (same shapes), or one of them fixed along the row (a scalar, a bias, a per-row factor).
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
  if (a.dtype() == DType::Float32) run(float{});
  else if (a.dtype() == DType::Float64) run(double{});
  else if (a.dtype() == DType::Int64 && allow_int) run(int64_t{});
  else throw_dtype_error(op, a.dtype(), allow_int ? "float32, float64 or int64" : "float32 or float64");
  return out;
}

// out = f(a) elementwise for float tensors.
template <class F>
Tensor unary(const char* op, const Tensor& a, F f) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  dispatch_float(a.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* pa = a.data<T>();
    if (a.is_contiguous()) {
      parallel_for(a.numel(), kParallelGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) o[i] = f(pa[i]);
      });
    } else {
      parallel_for_each_row<2>(a.shape(), {out.strides(), a.strides()},
                               [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& step) {
                                 T* y = o + off[0];  // out is contiguous: step[0] == 1
                                 const T* x = pa + off[1];
                                 for (int64_t i = 0; i < n; ++i) y[i] = f(x[i * step[1]]);
                               });
    }
  });
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary("add", a, b, [](auto x, auto y) { return x + y; }); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary("sub", a, b, [](auto x, auto y) { return x - y; }); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary("mul", a, b, [](auto x, auto y) { return x * y; }); }
Tensor div(const Tensor& a, const Tensor& b) {
  return binary("div", a, b, [](auto x, auto y) { return x / y; }, false);
}
Tensor pow(const Tensor& a, const Tensor& b) {
  return binary("pow", a, b, [](auto x, auto y) { return static_cast<decltype(x)>(std::pow(x, y)); }, false);
}
Tensor maximum(const Tensor& a, const Tensor& b) { return binary("maximum", a, b, [](auto x, auto y) { return x > y ? x : y; }); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary("minimum", a, b, [](auto x, auto y) { return x < y ? x : y; }); }

#define PG_COMPARISON(NAME, OP)                                                             \
  Tensor NAME(const Tensor& a, const Tensor& b) {                                           \
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
  const Shape out_shape =
      broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor c = cond.to(a.dtype());
  Tensor out = Tensor::empty(out_shape, a.dtype());
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* pc = c.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    int64_t k = 0;
    for_each_strided3(out_shape, broadcast_strides(c.shape(), c.strides(), out_shape),
                      broadcast_strides(a.shape(), a.strides(), out_shape),
                      broadcast_strides(b.shape(), b.strides(), out_shape),
                      [&](int64_t ic, int64_t ia, int64_t ib) { o[k++] = pc[ic] != T(0) ? pa[ia] : pb[ib]; });
  });
  return out;
}

Tensor add_scalar(const Tensor& a, double s) { return unary("add_scalar", a, [s](auto x) { return x + static_cast<decltype(x)>(s); }); }
Tensor mul_scalar(const Tensor& a, double s) { return unary("mul_scalar", a, [s](auto x) { return x * static_cast<decltype(x)>(s); }); }
Tensor rsub_scalar(const Tensor& a, double s) { return unary("rsub_scalar", a, [s](auto x) { return static_cast<decltype(x)>(s) - x; }); }
Tensor pow_scalar(const Tensor& a, double e) {
  if (e == 2.0) return unary("pow_scalar", a, [](auto x) { return x * x; });
  return unary("pow_scalar", a, [e](auto x) { return static_cast<decltype(x)>(std::pow(x, static_cast<decltype(x)>(e))); });
}
Tensor clamp(const Tensor& a, double lo, double hi) {
  if (lo > hi) throw std::invalid_argument(fmt::format("clamp: min {} exceeds max {}", lo, hi));
  return unary("clamp", a, [lo, hi](auto x) {
    using T = decltype(x);
    return x < T(lo) ? T(lo) : (x > T(hi) ? T(hi) : x);
  });
}
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  const Shape out_shape = broadcast_shapes(a.shape(), mask.shape(), "masked_fill");
  if (out_shape != a.shape())
    throw std::invalid_argument(fmt::format("masked_fill: mask {} does not broadcast to {}",
                                            shape_str(mask.shape()), shape_str(a.shape())));
  return where(mask, Tensor::full({}, value, a.dtype()), a);
}

Tensor neg(const Tensor& a) { return unary("neg", a, [](auto x) { return -x; }); }
Tensor exp(const Tensor& a) { return unary("exp", a, [](auto x) { return std::exp(x); }); }
Tensor log(const Tensor& a) { return unary("log", a, [](auto x) { return std::log(x); }); }
Tensor sqrt(const Tensor& a) { return unary("sqrt", a, [](auto x) { return std::sqrt(x); }); }
Tensor abs(const Tensor& a) { return unary("abs", a, [](auto x) { return std::abs(x); }); }
Tensor sign(const Tensor& a) {
  return unary("sign", a, [](auto x) { using T = decltype(x); return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0)); });
}
Tensor tanh(const Tensor& a) { return unary("tanh", a, [](auto x) { return std::tanh(x); }); }
Tensor sigmoid(const Tensor& a) {
  return unary("sigmoid", a, [](auto x) {
    using T = decltype(x);
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
  });
}
Tensor relu(const Tensor& a) { return unary("relu", a, [](auto x) { return x > decltype(x)(0) ? x : decltype(x)(0); }); }
Tensor step(const Tensor& a) { return unary("step", a, [](auto x) { return x > decltype(x)(0) ? decltype(x)(1) : decltype(x)(0); }); }

void add_(const Tensor& dst, const Tensor& src, double alpha) {
  if (dst.shape() != src.shape())
    throw std::invalid_argument(fmt::format("add_: shapes {} and {} differ", shape_str(dst.shape()),
                                            shape_str(src.shape())));
  check_same_dtype("add_", dst, src);
  dispatch_float(dst.dtype(), "add_", [&](auto tag) {
    using T = decltype(tag);
    T* d = dst.data<T>();
    const T* s = src.data<T>();
    const T al = static_cast<T>(alpha);
    if (src.is_contiguous() && dst.is_contiguous()) {
      parallel_for(dst.numel(), kParallelGrain, [&](int64_t begin, int64_t end) {
        if (alpha == 1.0) for (int64_t i = begin; i < end; ++i) d[i] += s[i];
        else for (int64_t i = begin; i < end; ++i) d[i] += al * s[i];
      });
    } else {
      for_each_strided2(dst.shape(), dst.strides(), src.strides(), [&](int64_t i, int64_t j) { d[i] += al * s[j]; });
    }
  });
}

void mul_scalar_(const Tensor& dst, double s) {
  dispatch_float(dst.dtype(), "mul_scalar_", [&](auto tag) {
    using T = decltype(tag);
    T* d = dst.data<T>();
    const T v = static_cast<T>(s);
    if (dst.is_contiguous())
      parallel_for(dst.numel(), kParallelGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) d[i] *= v;
      });
    else
      for_each_strided(dst.shape(), dst.strides(), [&](int64_t i) { d[i] *= v; });
  });
}

}  // namespace pathgrad::kernel
