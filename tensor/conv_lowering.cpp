// Convolution lowered to matrix products: im2col (an input's patches as columns), col2im (its
// adjoint) and the input gradient of a convolution, whose product and col2im run in blocks of
// samples that stay in cache.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "tensor/blas.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace pathgrad::kernel {
namespace {

// Checks an im2col/col2im geometry against an input shape [N, C, H, W].
void check_conv_geometry(const char* op, const Shape& x_shape, const Conv2dGeometry& g) {
  if (x_shape.size() != 4)
    throw std::invalid_argument(fmt::format("{}: expected input [N, C, H, W], got {}", op, shape_str(x_shape)));
  if (g.kh <= 0 || g.kw <= 0 || g.stride_h <= 0 || g.stride_w <= 0 || g.pad_h < 0 || g.pad_w < 0)
    throw std::invalid_argument(fmt::format("{}: kernel {}x{}, stride {}x{}, padding {}x{}: kernel and stride must be "
                                            "positive, padding non-negative",
                                            op, g.kh, g.kw, g.stride_h, g.stride_w, g.pad_h, g.pad_w));
  if (x_shape[2] + 2 * g.pad_h < g.kh || x_shape[3] + 2 * g.pad_w < g.kw)
    throw std::invalid_argument(fmt::format("{}: kernel {}x{} does not fit input {} with padding {}x{}", op, g.kh,
                                            g.kw, shape_str(x_shape), g.pad_h, g.pad_w));
}


// The output columns [ow_lo, ow_hi) whose input column ow*stride - pad + kj lies inside [0, W)
// (likewise for rows).
std::pair<int64_t, int64_t> valid_columns(int64_t OW, int64_t W, int64_t stride, int64_t pad, int64_t kj) {
  const int64_t first = kj - pad;  // input column of ow = 0
  const int64_t lo = first >= 0 ? 0 : (-first + stride - 1) / stride;
  const int64_t hi = W - first <= 0 ? 0 : std::min<int64_t>(OW, (W - first + stride - 1) / stride);
  return {std::min(lo, hi), hi};
}

// Adds the columns of one (sample, channel) plane [H, W] into it: its kh*kw rows of OH*OW
// columns, row (ki, kj) at rows + (ki*kw + kj) * row_stride. Each entry's contributions are added
// in the same order, whatever buffer the rows come from.
template <class T>
void col2im_plane(const T* rows, int64_t row_stride, T* plane, int64_t H, int64_t W, const Conv2dGeometry& g) {
  const int64_t OH = g.out_h(H), OW = g.out_w(W);
  for (int64_t ki = 0; ki < g.kh; ++ki)
    for (int64_t kj = 0; kj < g.kw; ++kj) {
      const T* row = rows + (ki * g.kw + kj) * row_stride;
      const auto [lo, hi] = valid_columns(OW, W, g.stride_w, g.pad_w, kj);
      const int64_t first = kj - g.pad_w;  // input column of ow = 0
      const auto [oh_lo, oh_hi] = valid_columns(OH, H, g.stride_h, g.pad_h, ki);  // rows inside [0, H)
      for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
        T* __restrict dst = plane + (oh * g.stride_h - g.pad_h + ki) * W;
        const T* __restrict src = row + oh * OW;
        if (g.stride_w == 1) for (int64_t ow = lo; ow < hi; ++ow) dst[ow + first] += src[ow];
        else for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.stride_w + first] += src[ow];
      }
    }
}

}  // namespace

Tensor im2col(const Tensor& x_in, const Conv2dGeometry& g) {
  check_conv_geometry("im2col", x_in.shape(), g);
  Tensor x = x_in.contiguous();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = g.out_h(H), OW = g.out_w(W), L = OH * OW, rows = C * g.kh * g.kw;
  // Laid out [rows, N, L]: row r of every sample's columns side by side.
  Tensor buffer = Tensor::empty({rows, N, L}, x.dtype());
  dispatch_float(x.dtype(), "im2col", [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.template data<T>();
    T* out = buffer.template data<T>();
    // Rows (r, n) of the buffer are split over threads.
    parallel_for(rows * N, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(L, 1)), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t r = i / N, n = i % N;
        const int64_t c = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw;
        const auto [lo, hi] = valid_columns(OW, W, g.stride_w, g.pad_w, kj);
        const int64_t first = kj - g.pad_w;  // input column of ow = 0
        const T* plane = in + (n * C + c) * H * W;
        T* dst = out + i * L;
        for (int64_t oh = 0; oh < OH; ++oh, dst += OW) {  // plain loops: rows are often a few elements
          const int64_t ih = oh * g.stride_h - g.pad_h + ki;
          T* __restrict d = dst;
          if (ih < 0 || ih >= H) {
            for (int64_t ow = 0; ow < OW; ++ow) d[ow] = T(0);
            continue;
          }
          const T* __restrict src = plane + ih * W;
          for (int64_t ow = 0; ow < lo; ++ow) d[ow] = T(0);
          if (g.stride_w == 1) for (int64_t ow = lo; ow < hi; ++ow) d[ow] = src[ow + first];
          else for (int64_t ow = lo; ow < hi; ++ow) d[ow] = src[ow * g.stride_w + first];
          for (int64_t ow = hi; ow < OW; ++ow) d[ow] = T(0);
        }
      }
    });
  });
  return permute(buffer, {1, 0, 2});
}

Tensor col2im(const Tensor& cols, const Shape& x_shape, const Conv2dGeometry& g) {
  check_conv_geometry("col2im", x_shape, g);
  const int64_t N = x_shape[0], C = x_shape[1], H = x_shape[2], W = x_shape[3];
  const int64_t L = g.out_h(H) * g.out_w(W), KK = g.kh * g.kw;
  if (cols.shape() != Shape{N, C * KK, L})
    throw std::invalid_argument(fmt::format("col2im: columns {} do not match input {}",
                                            shape_str(cols.shape()), shape_str(x_shape)));
  // Rows of L contiguous elements are read in place, whatever the strides between them.
  const Tensor c = cols.strides()[2] == 1 || L <= 1 ? cols : cols.contiguous();
  const int64_t sn = c.strides()[0], sr = c.strides()[1];
  Tensor x = Tensor::zeros(x_shape, c.dtype());
  dispatch_float(c.dtype(), "col2im", [&](auto tag) {
    using T = decltype(tag);
    const T* in = c.template data<T>();
    T* out = x.template data<T>();
    // Planes are split over threads.
    parallel_for(N * C, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(KK * L, 1)), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        col2im_plane(in + (p / C) * sn + (p % C) * KK * sr, sr, out + p * H * W, H, W, g);
    });
  });
  return x;
}

// Elements of the column buffer of one block of samples in conv2d_input_grad: small enough to stay
// in a core's cache between the product that writes it and the col2im that reads it.
constexpr int64_t kColumnBlockBytes = int64_t{256} << 10;

Tensor conv2d_input_grad(const Tensor& w, const Tensor& grad, const Shape& x_shape, const Conv2dGeometry& g,
                         const Tensor& dw, const Tensor& grad_t) {
  check_conv_geometry("conv2d_input_grad", x_shape, g);
  const int64_t N = x_shape[0], C = x_shape[1], H = x_shape[2], W = x_shape[3];
  const int64_t L = g.out_h(H) * g.out_w(W), KK = g.kh * g.kw, CKK = C * KK, O = w.size(0);
  const auto fits = [&](const Tensor& a, const Tensor& b) {
    return a.is_contiguous() && b.is_contiguous() && a.shape() == Shape{O, CKK} && b.shape() == Shape{O, N * L} &&
           a.dtype() == w.dtype() && b.dtype() == w.dtype();
  };
  if (w.dim() != 2 || !fits(w, grad) || dw.defined() != grad_t.defined() || (dw.defined() && !fits(dw, grad_t)))
    throw std::invalid_argument(fmt::format("conv2d_input_grad: weights {} and gradient {} (contiguous, one dtype) do "
                                            "not match input {}", shape_str(w.shape()), shape_str(grad.shape()),
                                            shape_str(x_shape)));
  Tensor x = Tensor::empty(x_shape, w.dtype());
  dispatch_float(w.dtype(), "conv2d_input_grad", [&](auto tag) {
    using T = decltype(tag);
    const int64_t per_block = std::clamp<int64_t>(kColumnBlockBytes / int64_t{sizeof(T)} / std::max<int64_t>(CKK * L, 1), 1, std::max<int64_t>(N, 1));
    const int64_t blocks = (N + per_block - 1) / per_block;
    // Blocks of samples are split over threads; a block's columns are [CKK, n*L], computed by the
    // same GEMM columns whatever the thread count.
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
      std::vector<T> cols(static_cast<size_t>(CKK * per_block * L)), extra(dw.defined() ? cols.size() : 0);
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t s0 = b * per_block, n = std::min(per_block, N - s0), ld = n * L;
        blas_gemm<T>(true, false, CKK, ld, O, w.data<T>(), CKK, grad.data<T>() + s0 * L, N * L, cols.data(), ld);
        if (dw.defined()) {  // + dwᵀ grad_t, rounded as a product of its own and then added
          blas_gemm<T>(true, false, CKK, ld, O, dw.data<T>(), CKK, grad_t.data<T>() + s0 * L, N * L, extra.data(), ld);
          for (int64_t i = 0; i < CKK * ld; ++i) cols[i] += extra[i];
        }
        T* planes = x.data<T>() + s0 * C * H * W;
        std::memset(planes, 0, static_cast<size_t>(n * C * H * W) * sizeof(T));
        for (int64_t p = 0; p < n * C; ++p)
          col2im_plane(cols.data() + (p % C) * KK * ld + (p / C) * L, ld, planes + p * H * W, H, W, g);
      }
    });
  });
  return x;
}

}  // namespace pathgrad::kernel
