// Convolution lowered to matrix products: im2col (an input's patches as columns), col2im (its
// adjoint), and a convolution's forward and backward, whose columns are built, multiplied and
// folded back in blocks of samples that stay in cache.
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

// Row (ki, kj) of one (sample, channel) plane [H, W]'s columns: dst[oh*OW + ow] =
// plane[oh*stride - pad + ki, ow*stride - pad + kj], zero outside the plane.
template <class T>
void im2col_row(const T* plane, int64_t H, int64_t W, int64_t ki, int64_t kj, const Conv2dGeometry& g, T* dst) {
  const int64_t OH = g.out_h(H), OW = g.out_w(W);
  const auto [lo, hi] = valid_columns(OW, W, g.stride_w, g.pad_w, kj);
  const auto [oh_lo, oh_hi] = valid_columns(OH, H, g.stride_h, g.pad_h, ki);  // rows inside [0, H)
  const int64_t first = kj - g.pad_w;  // input column of ow = 0
  std::fill(dst, dst + oh_lo * OW, T(0));
  std::fill(dst + oh_hi * OW, dst + OH * OW, T(0));
  if (g.stride_h == 1 && g.stride_w == 1 && OW == W) {
    // The valid rows are the plane shifted by one offset: one copy of the part inside the plane,
    // then the columns that wrapped around a row's end set to zero.
    const int64_t shift = (ki - g.pad_h) * W + first;  // plane index - dst index
    const int64_t begin = std::max(oh_lo * OW, -shift), end = std::min(oh_hi * OW, H * W - shift);
    if (begin < end) std::copy(plane + begin + shift, plane + end + shift, dst + begin);
    for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
      std::fill(dst + oh * OW, dst + oh * OW + lo, T(0));
      std::fill(dst + oh * OW + hi, dst + (oh + 1) * OW, T(0));
    }
    return;
  }
  for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {  // plain loops: rows are often a few elements
    T* __restrict d = dst + oh * OW;
    const T* __restrict src = plane + (oh * g.stride_h - g.pad_h + ki) * W;
    for (int64_t ow = 0; ow < lo; ++ow) d[ow] = T(0);
    if (g.stride_w == 1) for (int64_t ow = lo; ow < hi; ++ow) d[ow] = src[ow + first];
    else for (int64_t ow = lo; ow < hi; ++ow) d[ow] = src[ow * g.stride_w + first];
    for (int64_t ow = hi; ow < OW; ++ow) d[ow] = T(0);
  }
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
        const T* plane = in + (n * C + c) * H * W;
        im2col_row(plane, H, W, ki, kj, g, out + i * L);
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

namespace {

// Bytes of the column buffer of one block of samples in conv2d_forward / conv2d_backward: small
// enough to stay in a core's cache between the loop or product that writes it and the one that
// reads it.
constexpr int64_t kColumnBlockBytes = int64_t{256} << 10;

// A convolution's sizes, from x [N, C, H, W] and the geometry; L = OH*OW, CKK = C*kh*kw.
struct ConvSizes {
  int64_t N, C, H, W, L, CKK, O;
  // Samples per block: as many as keep a block's columns [CKK, n*L] within kColumnBlockBytes, at
  // least 1.
  int64_t per_block(int64_t element_bytes) const {
    return std::clamp<int64_t>(kColumnBlockBytes / element_bytes / std::max<int64_t>(CKK * L, 1), 1, std::max<int64_t>(N, 1));
  }
};

// Checks x [N, C, H, W] against w [O, C*kh*kw] (contiguous, x's dtype) and returns the sizes.
ConvSizes conv_sizes(const char* op, const Shape& x_shape, const Tensor& w, DType dtype, const Conv2dGeometry& g) {
  check_conv_geometry(op, x_shape, g);
  const ConvSizes z{x_shape[0], x_shape[1], x_shape[2], x_shape[3], g.out_h(x_shape[2]) * g.out_w(x_shape[3]),
                    x_shape[1] * g.kh * g.kw, w.dim() == 2 ? w.size(0) : 0};
  if (w.shape() != Shape{z.O, z.CKK} || !w.is_contiguous() || w.dtype() != dtype)
    throw std::invalid_argument(fmt::format("{}: weights {} (contiguous, [O, C*kh*kw], one dtype) do not match input {}",
                                            op, shape_str(w.shape()), shape_str(x_shape)));
  return z;
}

// The columns of samples [s0, s0 + n) of x [N, C, H, W] as cols [CKK, n*L]: row r holds the n
// samples' row r side by side.
template <class T>
void im2col_block(const T* x, const ConvSizes& z, const Conv2dGeometry& g, int64_t s0, int64_t n, T* cols) {
  const int64_t KK = g.kh * g.kw;
  for (int64_t r = 0; r < z.CKK; ++r)
    for (int64_t j = 0; j < n; ++j)
      im2col_row(x + ((s0 + j) * z.C + r / KK) * z.H * z.W, z.H, z.W, (r % KK) / g.kw, r % g.kw, g, cols + (r * n + j) * z.L);
}

// Rows of samples [s0, s0 + n) of grad [N, O, L] as [O, n*L] (row o holds the samples' rows o
// side by side): grad itself when n = 1, else copied into buf.
template <class T>
const T* gather_rows(const T* grad, const ConvSizes& z, int64_t s0, int64_t n, T* buf) {
  if (n == 1) return grad + s0 * z.O * z.L;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t o = 0; o < z.O; ++o)
      std::copy_n(grad + ((s0 + j) * z.O + o) * z.L, z.L, buf + (o * n + j) * z.L);
  return buf;
}

}  // namespace

Tensor conv2d_forward(const Tensor& x_in, const Tensor& w, const Conv2dGeometry& g) {
  const ConvSizes z = conv_sizes("conv2d_forward", x_in.shape(), w, x_in.dtype(), g);
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({z.N, z.O, z.L}, x.dtype());
  dispatch_float(x.dtype(), "conv2d_forward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t per_block = z.per_block(sizeof(T)), blocks = (z.N + per_block - 1) / per_block;
    // Blocks of samples are split over threads; each sample's [O, L] is one GEMM of its own.
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
      std::vector<T> cols(static_cast<size_t>(z.CKK * per_block * z.L));  // [CKK, n*L]
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t s0 = b * per_block, n = std::min(per_block, z.N - s0);
        im2col_block(x.data<T>(), z, g, s0, n, cols.data());
        for (int64_t j = 0; j < n; ++j)
          blas_gemm<T>(false, false, z.O, z.L, z.CKK, w.data<T>(), z.CKK, cols.data() + j * z.L, n * z.L,
                       y.data<T>() + (s0 + j) * z.O * z.L, z.L);
      }
    });
  });
  return y;
}

Conv2dGrads conv2d_backward(const Tensor& x_in, const Tensor& w, const Tensor& grad, const Conv2dGeometry& g,
                            bool input, bool weight, const Tensor& dw, const Tensor& grad_t) {
  const ConvSizes z = conv_sizes("conv2d_backward", x_in.shape(), w, x_in.dtype(), g);
  const auto fits = [&](const Tensor& gr) {
    return gr.is_contiguous() && gr.shape() == Shape{z.N, z.O, z.L} && gr.dtype() == w.dtype();
  };
  if (!fits(grad) || dw.defined() != grad_t.defined() || (dw.defined() && !(fits(grad_t) && dw.shape() == w.shape() &&
                                                                            dw.is_contiguous() && dw.dtype() == w.dtype())))
    throw std::invalid_argument(fmt::format("conv2d_backward: gradient {} (contiguous, one dtype) does not match "
                                            "weights {} and input {}", shape_str(grad.shape()), shape_str(w.shape()),
                                            shape_str(x_in.shape())));
  const Tensor x = weight ? x_in.contiguous() : x_in;
  Conv2dGrads out{input ? Tensor::empty(x.shape(), x.dtype()) : Tensor(),
                  weight ? Tensor::zeros({z.O, z.CKK}, x.dtype()) : Tensor()};
  dispatch_float(x.dtype(), "conv2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t per_block = z.per_block(sizeof(T)), blocks = (z.N + per_block - 1) / per_block;
    const int64_t parts = std::clamp<int64_t>(blocks, 1, num_threads()), plane = z.H * z.W;
    // Part p takes consecutive blocks and adds their weight gradients into partial p (part 0: the
    // zeroed result); the partials are added in order at the end.
    std::vector<T> partials(weight ? static_cast<size_t>((parts - 1) * z.O * z.CKK) : 0);
    parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
      const size_t block_cols = static_cast<size_t>(z.CKK * per_block * z.L), block_rows = static_cast<size_t>(z.O * per_block * z.L);
      std::vector<T> cols(block_cols), extra(dw.defined() ? block_cols : 0);  // [CKK, n*L]
      std::vector<T> rows(block_rows), rows_t(dw.defined() ? block_rows : 0);  // [O, n*L]
      for (int64_t p = p0; p < p1; ++p) {
        T* dw_sum = weight ? (p == 0 ? out.weight.data<T>() : partials.data() + (p - 1) * z.O * z.CKK) : nullptr;
        for (int64_t b = p * blocks / parts; b < (p + 1) * blocks / parts; ++b) {
          const int64_t s0 = b * per_block, n = std::min(per_block, z.N - s0), ld = n * z.L;
          const T* g_rows = gather_rows(grad.data<T>(), z, s0, n, rows.data());
          if (input) {  // col2im(wᵀ g_rows [+ dwᵀ g_t_rows])
            blas_gemm<T>(true, false, z.CKK, ld, z.O, w.data<T>(), z.CKK, g_rows, ld, cols.data(), ld);
            if (dw.defined()) {  // a product of its own, rounded, then added
              const T* gt_rows = gather_rows(grad_t.data<T>(), z, s0, n, rows_t.data());
              blas_gemm<T>(true, false, z.CKK, ld, z.O, dw.data<T>(), z.CKK, gt_rows, ld, extra.data(), ld);
              for (int64_t i = 0; i < z.CKK * ld; ++i) cols[i] += extra[i];
            }
            T* planes = out.input.data<T>() + s0 * z.C * plane;
            std::memset(planes, 0, static_cast<size_t>(n * z.C * plane) * sizeof(T));
            for (int64_t q = 0; q < n * z.C; ++q)
              col2im_plane(cols.data() + (q % z.C) * g.kh * g.kw * ld + (q / z.C) * z.L, ld, planes + q * plane, z.H, z.W, g);
          }
          if (weight) {  // dw_sum += g_rows [O, n*L] @ colsᵀ [n*L, CKK]
            im2col_block(x.data<T>(), z, g, s0, n, cols.data());
            blas_gemm<T>(false, true, z.O, z.CKK, ld, g_rows, ld, cols.data(), ld, dw_sum, z.CKK, true);
          }
        }
      }
    });
    for (int64_t p = 1; p < parts && weight; ++p) {
      T* sum = out.weight.data<T>();
      const T* part = partials.data() + (p - 1) * z.O * z.CKK;
      for (int64_t i = 0; i < z.O * z.CKK; ++i) sum[i] += part[i];
    }
  });
  return out;
}

}  // namespace pathgrad::kernel
