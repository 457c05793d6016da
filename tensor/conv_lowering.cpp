// Convolution lowered to matrix products: im2col (an input's patches as columns), col2im (its
// adjoint), and a convolution's forward and backward, whose columns are built, multiplied and
// folded back in blocks of samples that stay in cache.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <tuple>
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
    throw std::invalid_argument(
        fmt::format("{}: kernel {}x{}, stride {}x{}, padding {}x{}: kernel and stride must be "
                    "positive, padding non-negative",
                    op, g.kh, g.kw, g.stride_h, g.stride_w, g.pad_h, g.pad_w));
  if (x_shape[2] + 2 * g.pad_h < g.kh || x_shape[3] + 2 * g.pad_w < g.kw)
    throw std::invalid_argument(fmt::format("{}: kernel {}x{} does not fit input {} with padding {}x{}", op, g.kh, g.kw,
                                            shape_str(x_shape), g.pad_h, g.pad_w));
}

// The output columns [ow_lo, ow_hi) whose input column ow*stride - pad + kj lies inside [0, W)
// (likewise for rows).
std::pair<int64_t, int64_t> valid_columns(int64_t OW, int64_t W, int64_t stride, int64_t pad, int64_t kj) {
  const int64_t first = kj - pad;  // input column of ow = 0
  // ceil(a / stride) for a > 0, without a division for stride 1 (called per row of columns)
  const auto ceil_div = [stride](int64_t a) { return stride == 1 ? a : (a + stride - 1) / stride; };
  const int64_t lo = first >= 0 ? 0 : ceil_div(-first);
  const int64_t hi = W - first <= 0 ? 0 : std::min<int64_t>(OW, ceil_div(W - first));
  return {std::min(lo, hi), hi};
}

// Where row (ki, kj) of a plane [H, W]'s columns meets the plane: the output rows [oh_lo, oh_hi)
// and columns [lo, hi) whose inputs lie inside it. For a stride-1 convolution keeping the width
// (OW == W), `shifted`: the row's entries i in [begin, end) read the plane at i + shift, which
// covers the valid rows, plus entries outside [lo, hi) that wrap around a plane row's end.
struct Tap {
  int64_t OW, lo, hi, oh_lo, oh_hi;
  bool shifted;
  int64_t shift = 0, begin = 0, end = 0;

  Tap(int64_t H, int64_t W, int64_t ki, int64_t kj, const Conv2dGeometry& g)
      : OW(g.out_w(W)), shifted(g.stride_h == 1 && g.stride_w == 1 && g.out_w(W) == W) {
    std::tie(lo, hi) = valid_columns(OW, W, g.stride_w, g.pad_w, kj);
    std::tie(oh_lo, oh_hi) = valid_columns(g.out_h(H), H, g.stride_h, g.pad_h, ki);
    if (!shifted) return;
    shift = (ki - g.pad_h) * W + kj - g.pad_w;
    begin = std::max(oh_lo * OW, -shift);
    end = std::min(oh_hi * OW, H * W - shift);
  }

  // Sets the entries of the valid rows outside [lo, hi) to zero, column by column (a row's edge is
  // a few elements, too short to be worth a memset call each).
  template <class T>
  void zero_wrapped(T* row) const {
    const auto zero_column = [&](int64_t ow) {
      for (int64_t oh = oh_lo; oh < oh_hi; ++oh) row[oh * OW + ow] = T(0);
    };
    for (int64_t ow = 0; ow < lo; ++ow) zero_column(ow);
    for (int64_t ow = hi; ow < OW; ++ow) zero_column(ow);
  }
};

// Row (ki, kj) of one (sample, channel) plane [H, W]'s columns: dst[oh*OW + ow] =
// plane[oh*stride - pad + ki, ow*stride - pad + kj], zero outside the plane.
template <class T>
void im2col_row(const T* plane, int64_t H, int64_t W, int64_t ki, int64_t kj, const Conv2dGeometry& g, T* dst) {
  const Tap t(H, W, ki, kj, g);
  const int64_t OW = t.OW, first = kj - g.pad_w;  // input column of ow = 0
  std::fill(dst, dst + t.oh_lo * OW, T(0));
  std::fill(dst + t.oh_hi * OW, dst + g.out_h(H) * OW, T(0));
  if (t.shifted) {  // one copy of the shifted plane, then the wrapped entries cleared
    if (t.begin < t.end) std::copy(plane + t.begin + t.shift, plane + t.end + t.shift, dst + t.begin);
    t.zero_wrapped(dst);
    return;
  }
  for (int64_t oh = t.oh_lo; oh < t.oh_hi; ++oh) {  // plain loops: rows are often a few elements
    T* __restrict d = dst + oh * OW;
    const T* __restrict src = plane + (oh * g.stride_h - g.pad_h + ki) * W;
    for (int64_t ow = 0; ow < t.lo; ++ow) d[ow] = T(0);
    if (g.stride_w == 1)
      for (int64_t ow = t.lo; ow < t.hi; ++ow) d[ow] = src[ow + first];
    else if (g.stride_w == 2)
      for (int64_t ow = t.lo; ow < t.hi; ++ow) d[ow] = src[2 * ow + first];
    else
      for (int64_t ow = t.lo; ow < t.hi; ++ow) d[ow] = src[ow * g.stride_w + first];
    for (int64_t ow = t.hi; ow < OW; ++ow) d[ow] = T(0);
  }
}

// Adds the columns of one (sample, channel) plane [H, W] into it: its kh*kw rows of OH*OW
// columns, row (ki, kj) at rows + (ki*kw + kj) * row_stride. Each entry's contributions are added
// in the same order, whatever buffer the rows come from.
template <class T>
void col2im_plane(const T* rows, int64_t row_stride, T* plane, int64_t H, int64_t W, const Conv2dGeometry& g) {
  for (int64_t ki = 0; ki < g.kh; ++ki)
    for (int64_t kj = 0; kj < g.kw; ++kj) {
      const T* row = rows + (ki * g.kw + kj) * row_stride;
      const Tap t(H, W, ki, kj, g);
      const int64_t first = kj - g.pad_w;  // input column of ow = 0
      for (int64_t oh = t.oh_lo; oh < t.oh_hi; ++oh) {
        T* __restrict dst = plane + (oh * g.stride_h - g.pad_h + ki) * W;
        const T* __restrict src = row + oh * t.OW;
        if (g.stride_w == 1)
          for (int64_t ow = t.lo; ow < t.hi; ++ow) dst[ow + first] += src[ow];
        else
          for (int64_t ow = t.lo; ow < t.hi; ++ow) dst[ow * g.stride_w + first] += src[ow];
      }
    }
}

// col2im_plane on rows it may overwrite: for a shifted geometry (see Tap) each row's wrapped
// entries are set to zero and the row is added in one pass over the shifted plane, which adds the
// same terms in the same order plus zeros (equal results; a -0 sum may become +0).
template <class T>
void col2im_plane_scratch(T* rows, int64_t row_stride, T* plane, int64_t H, int64_t W, const Conv2dGeometry& g) {
  if (!Tap(H, W, 0, 0, g).shifted) return col2im_plane(static_cast<const T*>(rows), row_stride, plane, H, W, g);
  for (int64_t ki = 0; ki < g.kh; ++ki)
    for (int64_t kj = 0; kj < g.kw; ++kj) {
      T* __restrict row = rows + (ki * g.kw + kj) * row_stride;
      const Tap t(H, W, ki, kj, g);
      t.zero_wrapped(row);
      T* __restrict dst = plane + t.shift;
      for (int64_t i = t.begin; i < t.end; ++i) dst[i] += row[i];
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
    throw std::invalid_argument(
        fmt::format("col2im: columns {} do not match input {}", shape_str(cols.shape()), shape_str(x_shape)));
  // Rows of L contiguous elements are read in place, whatever the strides between them.
  const Tensor c = cols.strides()[2] == 1 || L <= 1 ? cols : cols.contiguous();
  const int64_t sn = c.strides()[0], sr = c.strides()[1];
  Tensor x = Tensor::zeros(x_shape, c.dtype());
  dispatch_float(c.dtype(), "col2im", [&](auto tag) {
    using T = decltype(tag);
    const T* in = c.template data<T>();
    T* out = x.template data<T>();
    // Planes are split over threads.
    parallel_for(N * C, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(KK * L, 1)),
                 [&](int64_t p0, int64_t p1) {
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
// A block's columns per output channel, at least (see ConvSizes::per_block).
constexpr int64_t kWeightReuse = 2;

// A convolution's sizes, from x [N, C, H, W] and the geometry; L = OH*OW, CKK = C*kh*kw.
struct ConvSizes {
  int64_t N, C, H, W, L, CKK, O;
  // Samples per block: as many as keep a block's columns [CKK, n*L] within kColumnBlockBytes, but
  // at least kWeightReuse*O columns (n*L), since each block packs the weights [O, CKK] (and reads
  // and writes the weight gradient) once; at least 1, at most N.
  int64_t per_block(int64_t element_bytes) const {
    const int64_t fit = kColumnBlockBytes / element_bytes / std::max<int64_t>(CKK * L, 1);
    const int64_t reuse = (kWeightReuse * O + L - 1) / std::max<int64_t>(L, 1);
    return std::clamp<int64_t>(std::max(fit, reuse), 1, std::max<int64_t>(N, 1));
  }
};

// Checks x [N, C, H, W] against w [O, C*kh*kw] (contiguous, x's dtype) and returns the sizes.
ConvSizes conv_sizes(const char* op, const Shape& x_shape, const Tensor& w, DType dtype, const Conv2dGeometry& g) {
  check_conv_geometry(op, x_shape, g);
  const ConvSizes z{x_shape[0],
                    x_shape[1],
                    x_shape[2],
                    x_shape[3],
                    g.out_h(x_shape[2]) * g.out_w(x_shape[3]),
                    x_shape[1] * g.kh * g.kw,
                    w.dim() == 2 ? w.size(0) : 0};
  if (w.shape() != Shape{z.O, z.CKK} || !w.is_contiguous() || w.dtype() != dtype)
    throw std::invalid_argument(
        fmt::format("{}: weights {} (contiguous, [O, C*kh*kw], one dtype) do not match input {}", op,
                    shape_str(w.shape()), shape_str(x_shape)));
  return z;
}

// The columns of samples [s0, s0 + n) of x [N, C, H, W] as cols [CKK, n*L]: row r holds the n
// samples' row r side by side.
template <class T>
void im2col_block(const T* x, const ConvSizes& z, const Conv2dGeometry& g, int64_t s0, int64_t n, T* cols) {
  const int64_t KK = g.kh * g.kw;
  for (int64_t r = 0; r < z.CKK; ++r)
    for (int64_t j = 0; j < n; ++j)
      im2col_row(x + ((s0 + j) * z.C + r / KK) * z.H * z.W, z.H, z.W, (r % KK) / g.kw, r % g.kw, g,
                 cols + (r * n + j) * z.L);
}

// [a, b, L] -> [b, a, L]: rows of L elements regrouped.
template <class T>
void swap_dims(const T* src, int64_t a, int64_t b, int64_t L, T* dst) {
  for (int64_t i = 0; i < a; ++i)
    for (int64_t k = 0; k < b; ++k) std::copy_n(src + (i * b + k) * L, L, dst + (k * a + i) * L);
}

// Rows of samples [s0, s0 + n) of grad [N, O, L] as [O, n*L] (row o holds the samples' rows o
// side by side): grad itself when n = 1, else copied into buf.
template <class T>
const T* gather_rows(const T* grad, const ConvSizes& z, int64_t s0, int64_t n, T* buf) {
  if (n == 1) return grad + s0 * z.O * z.L;
  swap_dims(grad + s0 * z.O * z.L, n, z.O, z.L, buf);
  return buf;
}

// conv_sizes for a backward pass, which also checks grad [N, O, L] (contiguous, w's dtype) and,
// when given, dw (like w) with grad_t (like grad).
ConvSizes backward_sizes(const Tensor& x, const Tensor& w, const Tensor& grad, const Conv2dGeometry& g,
                         const Tensor& dw, const Tensor& grad_t) {
  const ConvSizes z = conv_sizes("conv2d_backward", x.shape(), w, x.dtype(), g);
  const auto fits = [&](const Tensor& gr) {
    return gr.is_contiguous() && gr.shape() == Shape{z.N, z.O, z.L} && gr.dtype() == w.dtype();
  };
  if (!fits(grad) || dw.defined() != grad_t.defined() ||
      (dw.defined() && !(fits(grad_t) && dw.shape() == w.shape() && dw.is_contiguous() && dw.dtype() == w.dtype())))
    throw std::invalid_argument(
        fmt::format("conv2d_backward: gradient {} (contiguous, one dtype) does not match "
                    "weights {} and input {}",
                    shape_str(grad.shape()), shape_str(w.shape()), shape_str(x.shape())));
  return z;
}

}  // namespace

Tensor conv2d_lowered_forward(const Tensor& x_in, const Tensor& w, const Conv2dGeometry& g) {
  const ConvSizes z = conv_sizes("conv2d_forward", x_in.shape(), w, x_in.dtype(), g);
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({z.N, z.O, z.L}, x.dtype());
  dispatch_float(x.dtype(), "conv2d_forward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t per_block = z.per_block(sizeof(T)), blocks = (z.N + per_block - 1) / per_block;
    // Blocks of samples are split over threads; a block's [O, n*L] is one GEMM, written in place
    // when the block is one sample.
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
      const auto cols =
          std::make_unique_for_overwrite<T[]>(static_cast<size_t>(z.CKK * per_block * z.L));  // [CKK, n*L]
      const auto rows = std::make_unique_for_overwrite<T[]>(per_block > 1 ? static_cast<size_t>(z.O * per_block * z.L)
                                                                          : 0);  // [O, n*L]
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t s0 = b * per_block, n = std::min(per_block, z.N - s0);
        T* dst = y.data<T>() + s0 * z.O * z.L;
        im2col_block(x.data<T>(), z, g, s0, n, cols.get());
        blas_gemm<T>(false, false, z.O, n * z.L, z.CKK, w.data<T>(), z.CKK, cols.get(), n * z.L,
                     n == 1 ? dst : rows.get(), n * z.L);
        if (n > 1) swap_dims(rows.get(), z.O, n, z.L, dst);
      }
    });
  });
  return y;
}

Conv2dGrads conv2d_lowered_backward(const Tensor& x_in, const Tensor& w, const Tensor& grad, const Conv2dGeometry& g,
                                    bool input, bool weight, const Tensor& dw, const Tensor& grad_t) {
  const ConvSizes z = backward_sizes(x_in, w, grad, g, dw, grad_t);
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
      const size_t block_cols = static_cast<size_t>(z.CKK * per_block * z.L);
      const size_t block_rows = per_block > 1 ? static_cast<size_t>(z.O * per_block * z.L) : 0;
      const auto cols = std::make_unique_for_overwrite<T[]>(block_cols);  // [CKK, n*L]
      const auto extra = std::make_unique_for_overwrite<T[]>(dw.defined() ? block_cols : 0);
      const auto rows = std::make_unique_for_overwrite<T[]>(block_rows);  // [O, n*L]
      const auto rows_t = std::make_unique_for_overwrite<T[]>(dw.defined() ? block_rows : 0);
      for (int64_t p = p0; p < p1; ++p) {
        T* dw_sum = weight ? (p == 0 ? out.weight.data<T>() : partials.data() + (p - 1) * z.O * z.CKK) : nullptr;
        for (int64_t b = p * blocks / parts; b < (p + 1) * blocks / parts; ++b) {
          const int64_t s0 = b * per_block, n = std::min(per_block, z.N - s0), ld = n * z.L;
          const T* g_rows = gather_rows(grad.data<T>(), z, s0, n, rows.get());
          if (input) {  // col2im(wᵀ g_rows [+ dwᵀ g_t_rows])
            blas_gemm<T>(true, false, z.CKK, ld, z.O, w.data<T>(), z.CKK, g_rows, ld, cols.get(), ld);
            if (dw.defined()) {  // a product of its own, rounded, then added
              const T* gt_rows = gather_rows(grad_t.data<T>(), z, s0, n, rows_t.get());
              blas_gemm<T>(true, false, z.CKK, ld, z.O, dw.data<T>(), z.CKK, gt_rows, ld, extra.get(), ld);
              for (int64_t i = 0; i < z.CKK * ld; ++i) cols[i] += extra[i];
            }
            T* planes = out.input.data<T>() + s0 * z.C * plane;
            std::memset(planes, 0, static_cast<size_t>(n * z.C * plane) * sizeof(T));
            for (int64_t q = 0; q < n * z.C; ++q)
              col2im_plane_scratch(cols.get() + (q % z.C) * g.kh * g.kw * ld + (q / z.C) * z.L, ld, planes + q * plane,
                                   z.H, z.W, g);
          }
          if (weight) {  // dw_sum += g_rows [O, n*L] @ colsᵀ [n*L, CKK]
            im2col_block(x.data<T>(), z, g, s0, n, cols.get());
            blas_gemm<T>(false, true, z.O, z.CKK, ld, g_rows, ld, cols.get(), ld, dw_sum, z.CKK, true);
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

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Conv2dGeometry& g) {
  const ConvSizes z = conv_sizes("conv2d_forward", x.shape(), w, x.dtype(), g);
  if (conv2d_winograd_applies(x.shape(), z.O, x.dtype(), g)) return conv2d_winograd_forward(x, w, g);
  if (conv2d_phases_apply(x.shape(), z.O, x.dtype(), g)) return conv2d_phases_forward(x, w, g);
  return conv2d_lowered_forward(x, w, g);
}

Conv2dGrads conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& grad, const Conv2dGeometry& g, bool input,
                            bool weight, const Tensor& dw, const Tensor& grad_t) {
  const ConvSizes z = backward_sizes(x, w, grad, g, dw, grad_t);
  if (!dw.defined() && conv2d_winograd_applies(x.shape(), z.O, x.dtype(), g))
    return conv2d_winograd_backward(x, w, grad, g, input, weight);
  if (!dw.defined() && conv2d_phases_apply(x.shape(), z.O, x.dtype(), g))
    return conv2d_phases_backward(x, w, grad, g, input, weight);
  return conv2d_lowered_backward(x, w, grad, g, input, weight, dw, grad_t);
}

}  // namespace pathgrad::kernel
