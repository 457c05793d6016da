// Matrix products through OpenBLAS (cblas_sgemm / cblas_dgemm) with NumPy matmul semantics (tiny
// batched products in plain loops), and im2col / col2im, which turn 2-D convolutions into matrix
// products.
#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace pathgrad::kernel {
namespace {

// A 2-D operand as BLAS sees it: a pointer, whether to transpose, and the leading dimension.
// Row-major [r, c] with strides (ld, 1) is NoTrans; strides (1, ld) is a transposed view.
struct GemmOperand {
  bool trans;
  int64_t ld;
};

bool blas_layout(const Shape& strides, int64_t rows, int64_t cols, GemmOperand& op) {
  const int64_t s0 = strides[strides.size() - 2], s1 = strides[strides.size() - 1];
  if ((s1 == 1 || cols == 1) && s0 >= std::max<int64_t>(cols, 1)) { op = {false, s0}; return true; }
  if ((s0 == 1 || rows == 1) && s1 >= std::max<int64_t>(rows, 1)) { op = {true, s1}; return true; }
  return false;
}

template <class T>
void blas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
               int64_t ldb, T* c, int64_t ldc) {
  const auto TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, TA, TB, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f,
                a, static_cast<int>(lda), b, static_cast<int>(ldb), 0.0f, c, static_cast<int>(ldc));
  else
    cblas_dgemm(CblasRowMajor, TA, TB, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0,
                a, static_cast<int>(lda), b, static_cast<int>(ldb), 0.0, c, static_cast<int>(ldc));
}

// Multiply-adds per part worth a thread of its own in a split product.
constexpr int64_t kGemmPartMacs = int64_t{1} << 21;

// C = op(A) op(B), row-major. OpenBLAS runs single-threaded (tensor/parallel.hpp): the product is
// split here into column blocks (or row blocks when C is tall), one BLAS call per thread of
// parallel_for. Each entry of C is computed by one call over the whole of k, as without the split,
// but OpenBLAS picks its kernels by the block's size, so the last bits of C may depend on the
// thread count (a given thread count is reproducible).
template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, T* c, int64_t ldc) {
  const int64_t parts = std::min<int64_t>(num_threads(), m * n * k / kGemmPartMacs);
  if (parts <= 1) return blas_gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
  if (n >= m) {
    parallel_for(n, (n + parts - 1) / parts, [&](int64_t j0, int64_t j1) {
      blas_gemm(ta, tb, m, j1 - j0, k, a, lda, tb ? b + j0 * ldb : b + j0, ldb, c + j0, ldc);
    });
  } else {
    parallel_for(m, (m + parts - 1) / parts, [&](int64_t i0, int64_t i1) {
      blas_gemm(ta, tb, i1 - i0, n, k, ta ? a + i0 : a + i0 * lda, lda, b, ldb, c + i0 * ldc, ldc);
    });
  }
}

// Products with m·n·k up to this many multiply-adds skip BLAS: for the thousands of tiny products
// of a batched matmul (attention over a few tokens), a BLAS call's fixed cost exceeds the work.
constexpr int64_t kSmallProduct = 2048;

// Rows of one small product from packed operands: C[i, :] = Σ_p A[i, p] B[p, :], p = 0, 1, ...
// in order. N > 0 fixes the row length at compile time (the row stays in registers); N = 0 takes
// it from n.
template <class T, int N>
void small_rows(int64_t m, int64_t n, int64_t k, const T* __restrict a, const T* __restrict b, T* __restrict c) {
  if constexpr (N > 0) {
    for (int64_t i = 0; i < m; ++i) {
      T acc[N] = {};
      for (int64_t p = 0; p < k; ++p) {
        const T aip = a[i * k + p];
        for (int j = 0; j < N; ++j) acc[j] += aip * b[p * N + j];
      }
      for (int j = 0; j < N; ++j) c[i * N + j] = acc[j];
    }
  } else {
    for (int64_t i = 0; i < m; ++i) {
      T* __restrict row = c + i * n;
      for (int64_t j = 0; j < n; ++j) row[j] = T(0);
      for (int64_t p = 0; p < k; ++p) {
        const T aip = a[i * k + p];
        for (int64_t j = 0; j < n; ++j) row[j] += aip * b[p * n + j];
      }
    }
  }
}

// One small product C = A B: A [m, k] and B [k, n], read on any strides, are packed into
// contiguous row-major buffers first.
template <class T>
void small_product(int64_t m, int64_t n, int64_t k, const T* A, int64_t sa0, int64_t sa1, const T* B, int64_t sb0,
                   int64_t sb1, T* C, T* a_packed, T* b_packed) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) a_packed[i * k + p] = A[i * sa0 + p * sa1];
  for (int64_t p = 0; p < k; ++p)
    for (int64_t j = 0; j < n; ++j) b_packed[p * n + j] = B[p * sb0 + j * sb1];
  switch (n) {
    case 2: return small_rows<T, 2>(m, n, k, a_packed, b_packed, C);
    case 4: return small_rows<T, 4>(m, n, k, a_packed, b_packed, C);
    case 8: return small_rows<T, 8>(m, n, k, a_packed, b_packed, C);
    case 16: return small_rows<T, 16>(m, n, k, a_packed, b_packed, C);
    default: return small_rows<T, 0>(m, n, k, a_packed, b_packed, C);
  }
}

// out[i] = a[i] @ b[i] for every broadcast batch entry i, read on the operands' own strides,
// batch entries split over threads.
template <class T>
void small_products(const Shape& batch, int64_t m, int64_t n, int64_t k, const Tensor& a, const Tensor& b,
                    const Tensor& out) {
  const int64_t nd = static_cast<int64_t>(batch.size());
  const Shape &sa = a.strides(), &sb = b.strides();
  const T* pa = a.template data<T>();
  const T* pb = b.template data<T>();
  T* o = out.template data<T>();
  parallel_for(numel(batch), std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(m * n * k, 1)), [&](int64_t b0, int64_t b1) {
    std::vector<T> packed(static_cast<size_t>(m * k + k * n));
    for (int64_t bi = b0; bi < b1; ++bi) {
      int64_t offa = 0, offb = 0;
      for (int64_t d = nd - 1, rest = bi; d >= 0; --d) {
        const int64_t i = rest % batch[d];
        rest /= batch[d];
        offa += i * sa[d];
        offb += i * sb[d];
      }
      small_product<T>(m, n, k, pa + offa, sa[nd], sa[nd + 1], pb + offb, sb[nd], sb[nd + 1], o + bi * m * n,
                       packed.data(), packed.data() + m * k);
    }
  });
}

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

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  if (a_in.dtype() != b_in.dtype())
    throw std::invalid_argument(fmt::format("matmul: dtypes {} and {} differ", dtype_name(a_in.dtype()),
                                            dtype_name(b_in.dtype())));
  if (a_in.dim() == 0 || b_in.dim() == 0)
    throw std::invalid_argument("matmul: both operands need at least 1 dim");
  const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
  Tensor a = a_vec ? unsqueeze(a_in, 0) : a_in;
  Tensor b = b_vec ? unsqueeze(b_in, 1) : b_in;
  const int64_t m = a.size(-2), k = a.size(-1), k2 = b.size(-2), n = b.size(-1);
  if (k != k2)
    throw std::invalid_argument(fmt::format("matmul: shapes {} and {} do not align ({} != {})",
                                            shape_str(a_in.shape()), shape_str(b_in.shape()), k, k2));
  const Shape a_batch(a.shape().begin(), a.shape().end() - 2);
  const Shape b_batch(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(a_batch, b_batch, "matmul");
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  // GEMM overwrites every output entry; an empty inner dimension leaves the zeros of empty().
  Tensor out = k > 0 ? Tensor::uninitialized(out_shape, a.dtype()) : Tensor::empty(out_shape, a.dtype());

  dispatch_float(a.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    if (m == 0 || n == 0) return;
    GemmOperand oa{}, ob{};
    // Fast path: b has no batch dims and a is contiguous -> fold a's batch into rows: one GEMM.
    if (b_batch.empty() && a.is_contiguous() && blas_layout(b.strides(), k, n, ob)) {
      gemm<T>(false, ob.trans, numel(batch) * m, n, k, a.template data<T>(), std::max<int64_t>(k, 1),
              b.template data<T>(), ob.ld, out.template data<T>(), n);
      return;
    }
    // General path: one GEMM per broadcast batch entry on views of a and b.
    Tensor ae = expand(a, [&] { Shape s = batch; s.push_back(m); s.push_back(k); return s; }());
    Tensor be = expand(b, [&] { Shape s = batch; s.push_back(k); s.push_back(n); return s; }());
    if (m * n * k <= kSmallProduct) {
      small_products<T>(batch, m, n, k, ae, be, out);
      return;
    }
    if (!blas_layout(ae.strides(), m, k, oa)) { ae = ae.contiguous(); blas_layout(ae.strides(), m, k, oa); }
    if (!blas_layout(be.strides(), k, n, ob)) { be = be.contiguous(); blas_layout(be.strides(), k, n, ob); }
    const int64_t nb = numel(batch), nd = static_cast<int64_t>(batch.size());
    std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
    T* o = out.template data<T>();
    const T* pa = ae.template data<T>();
    const T* pb = be.template data<T>();
    for (int64_t bi = 0; bi < nb; ++bi) {
      int64_t offa = 0, offb = 0;
      for (int64_t d = 0; d < nd; ++d) {
        offa += idx[d] * ae.strides()[d];
        offb += idx[d] * be.strides()[d];
      }
      gemm<T>(oa.trans, ob.trans, m, n, k, pa + offa, oa.ld, pb + offb, ob.ld, o + bi * m * n, n);
      for (int64_t d = nd - 1; d >= 0; --d) {
        if (++idx[d] < batch[d]) break;
        idx[d] = 0;
      }
    }
  });
  if (a_vec) out = squeeze(out, -2);
  if (b_vec) out = squeeze(out, -1);
  return out;
}

namespace {
// The output columns [ow_lo, ow_hi) whose input column ow*stride - pad + kj lies inside [0, W)
// (likewise for rows).
std::pair<int64_t, int64_t> valid_columns(int64_t OW, int64_t W, int64_t stride, int64_t pad, int64_t kj) {
  const int64_t first = kj - pad;  // input column of ow = 0
  const int64_t lo = first >= 0 ? 0 : (-first + stride - 1) / stride;
  const int64_t hi = W - first <= 0 ? 0 : std::min<int64_t>(OW, (W - first + stride - 1) / stride);
  return {std::min(lo, hi), hi};
}
}  // namespace

Tensor im2col(const Tensor& x_in, const Conv2dGeometry& g) {
  check_conv_geometry("im2col", x_in.shape(), g);
  Tensor x = x_in.contiguous();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = g.out_h(H), OW = g.out_w(W), L = OH * OW, rows = C * g.kh * g.kw;
  // Laid out [rows, N, L]: row r of every sample's columns side by side.
  Tensor buffer = Tensor::uninitialized({rows, N, L}, x.dtype());
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
  const int64_t OH = g.out_h(H), OW = g.out_w(W), L = OH * OW;
  if (cols.shape() != Shape{N, C * g.kh * g.kw, L})
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
    // Planes are split over threads; each plane adds its contributions in the same order.
    parallel_for(N * C, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(g.kh * g.kw * L, 1)), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t n = p / C, ch = p % C;
        T* plane = out + p * H * W;
        for (int64_t ki = 0; ki < g.kh; ++ki)
          for (int64_t kj = 0; kj < g.kw; ++kj) {
            const T* row = in + n * sn + ((ch * g.kh + ki) * g.kw + kj) * sr;
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
    });
  });
  return x;
}

}  // namespace pathgrad::kernel
