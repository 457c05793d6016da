// Max pooling kernels (fixed and adaptive windows) and their gradient routing, split over
// parallel_for's threads by (sample, channel) plane.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace pathgrad::kernel {
namespace {

// Window bounds along one axis: [begin(i), end(i)) for output position i.
struct Windows {
  std::vector<int64_t> begin, end;
};

PoolResult pool(const Tensor& x_in, const Windows& rows, const Windows& cols, const char* op) {
  if (x_in.dim() != 4)
    throw std::invalid_argument(fmt::format("{}: expected input [N, C, H, W], got {}", op, shape_str(x_in.shape())));
  Tensor x = x_in.contiguous();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = static_cast<int64_t>(rows.begin.size()), OW = static_cast<int64_t>(cols.begin.size());
  PoolResult r{Tensor::empty({N, C, OH, OW}, x.dtype()), Tensor::empty({N, C, OH, OW}, DType::Int64)};
  int64_t* idx = r.indices.data<int64_t>();
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* out = r.values.data<T>();
    parallel_for(N * C, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(H * W, 1)),
                 [&](int64_t p0, int64_t p1) {
                   for (int64_t plane = p0; plane < p1; ++plane) {
                     const T* p = in + plane * H * W;
                     for (int64_t i = 0; i < OH; ++i)
                       for (int64_t j = 0; j < OW; ++j) {
                         int64_t best = rows.begin[i] * W + cols.begin[j];
                         for (int64_t h = rows.begin[i]; h < rows.end[i]; ++h)
                           for (int64_t w = cols.begin[j]; w < cols.end[j]; ++w)
                             if (p[h * W + w] > p[best]) best = h * W + w;
                         const int64_t o = (plane * OH + i) * OW + j;
                         out[o] = p[best];
                         idx[o] = best;
                       }
                   }
                 });
  });
  return r;
}

Windows fixed_windows(int64_t size, int64_t k, int64_t s) {
  Windows w;
  for (int64_t start = 0; start + k <= size; start += s) {
    w.begin.push_back(start);
    w.end.push_back(start + k);
  }
  return w;
}

Windows adaptive_windows(int64_t size, int64_t out) {
  Windows w;
  for (int64_t i = 0; i < out; ++i) {
    w.begin.push_back((i * size) / out);
    w.end.push_back(((i + 1) * size + out - 1) / out);
  }
  return w;
}

}  // namespace

PoolResult max_pool2d(const Tensor& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw) {
  if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0)
    throw std::invalid_argument(
        fmt::format("max_pool2d: kernel {}x{} and stride {}x{} must be positive", kh, kw, sh, sw));
  if (x.dim() != 4) throw std::invalid_argument("max_pool2d: expected input [N, C, H, W], got " + shape_str(x.shape()));
  if (x.size(2) < kh || x.size(3) < kw)
    throw std::invalid_argument(
        fmt::format("max_pool2d: kernel {}x{} does not fit input {}", kh, kw, shape_str(x.shape())));
  return pool(x, fixed_windows(x.size(2), kh, sh), fixed_windows(x.size(3), kw, sw), "max_pool2d");
}

PoolResult adaptive_max_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  if (x.dim() != 4)
    throw std::invalid_argument("adaptive_max_pool2d: expected input [N, C, H, W], got " + shape_str(x.shape()));
  if (out_h <= 0 || out_w <= 0 || x.size(2) == 0 || x.size(3) == 0)
    throw std::invalid_argument(
        fmt::format("adaptive_max_pool2d: output {}x{} impossible for input {}", out_h, out_w, shape_str(x.shape())));
  return pool(x, adaptive_windows(x.size(2), out_h), adaptive_windows(x.size(3), out_w), "adaptive_max_pool2d");
}

Tensor max_pool2d_backward(const Tensor& grad_in, const Tensor& indices, const Shape& x_shape) {
  if (x_shape.size() != 4 || grad_in.dim() != 4 || grad_in.shape() != indices.shape() ||
      indices.dtype() != DType::Int64 || grad_in.size(0) != x_shape[0] || grad_in.size(1) != x_shape[1])
    throw std::invalid_argument(fmt::format(
        "max_pool2d_backward: gradient {} and int64 indices {} ({}) do not match "
        "input {}",
        shape_str(grad_in.shape()), shape_str(indices.shape()), dtype_name(indices.dtype()), shape_str(x_shape)));
  Tensor grad = grad_in.contiguous();
  Tensor out = Tensor::zeros(x_shape, grad.dtype());
  const int64_t planes = x_shape[0] * x_shape[1], HW = x_shape[2] * x_shape[3];
  const int64_t per_plane = grad.numel() / std::max<int64_t>(planes, 1);
  const Tensor index = indices.contiguous();
  const int64_t* idx = index.data<int64_t>();
  const int64_t count = index.numel();  // hoisted: numel() is a product over the shape, not inlined
  for (int64_t k = 0; k < count; ++k)
    if (idx[k] < 0 || idx[k] >= HW)
      throw std::out_of_range(
          fmt::format("max_pool2d_backward: index {} out of range for input {}", idx[k], shape_str(x_shape)));
  dispatch_float(grad.dtype(), "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* g = grad.data<T>();
    T* o = out.data<T>();
    // Every index lies in its own plane, so planes are split over threads.
    parallel_for(planes, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(HW, 1)), [&](int64_t p0, int64_t p1) {
      for (int64_t plane = p0; plane < p1; ++plane)
        for (int64_t k = 0; k < per_plane; ++k) o[plane * HW + idx[plane * per_plane + k]] += g[plane * per_plane + k];
    });
  });
  return out;
}

}  // namespace pathgrad::kernel
