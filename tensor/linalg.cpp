// Matrix products through OpenBLAS (cblas_sgemm / cblas_dgemm) with NumPy matmul semantics (tiny
// batched products and outer products in plain loops; the entries of a batched product spread
// over threads).
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "tensor/blas.hpp"
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
  if ((s1 == 1 || cols == 1) && s0 >= std::max<int64_t>(cols, 1)) {
    op = {false, s0};
    return true;
  }
  if ((s0 == 1 || rows == 1) && s1 >= std::max<int64_t>(rows, 1)) {
    op = {true, s1};
    return true;
  }
  return false;
}

// Multiply-adds per part worth a thread of its own in a split product.
constexpr int64_t kGemmPartMacs = int64_t{1} << 21;

// C = op(A) op(B), row-major. OpenBLAS runs single-threaded (tensor/parallel.hpp): the product is
// split here into column blocks (or row blocks when C is tall), one BLAS call per thread of
// parallel_for. Each entry of C is computed by one call over the whole of k, as without the split,
// but OpenBLAS picks its kernels by the block's size, so the last bits of C may depend on the
// thread count (a given thread count is reproducible).
template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
          int64_t ldc) {
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

// Rows of one small product: C[i, :] = Σ_p A[i, p] B[p, :], p = 0, 1, ... in order; A read on
// its strides (each entry once), B's rows contiguous (row stride ldb). N > 0 fixes the row length
// at compile time (the row stays in registers); N = 0 takes it from n.
template <class T, int N>
void small_rows(int64_t m, int64_t n, int64_t k, const T* __restrict a, int64_t sa0, int64_t sa1, const T* __restrict b,
                int64_t ldb, T* __restrict c) {
  if constexpr (N > 0) {
    for (int64_t i = 0; i < m; ++i) {
      T acc[N] = {};
      for (int64_t p = 0; p < k; ++p) {
        const T aip = a[i * sa0 + p * sa1];
        for (int j = 0; j < N; ++j) acc[j] += aip * b[p * ldb + j];
      }
      for (int j = 0; j < N; ++j) c[i * N + j] = acc[j];
    }
  } else {
    for (int64_t i = 0; i < m; ++i) {
      T* __restrict row = c + i * n;
      for (int64_t j = 0; j < n; ++j) row[j] = T(0);
      for (int64_t p = 0; p < k; ++p) {
        const T aip = a[i * sa0 + p * sa1];
        for (int64_t j = 0; j < n; ++j) row[j] += aip * b[p * ldb + j];
      }
    }
  }
}

// One small product C = A B of A [m, k] and B [k, n] on any strides; B is packed into contiguous
// rows first (into b_packed, k·n entries) unless its rows already are.
template <class T>
void small_product(int64_t m, int64_t n, int64_t k, const T* A, int64_t sa0, int64_t sa1, const T* B, int64_t sb0,
                   int64_t sb1, T* C, T* b_packed) {
  if (sb1 != 1 && n > 1) {
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < n; ++j) b_packed[p * n + j] = B[p * sb0 + j * sb1];
    B = b_packed;
    sb0 = n;
  }
  switch (n) {
    case 2:
      return small_rows<T, 2>(m, n, k, A, sa0, sa1, B, sb0, C);
    case 3:  // attention scores over three tokens (the grokking transformer)
      return small_rows<T, 3>(m, n, k, A, sa0, sa1, B, sb0, C);
    case 4:
      return small_rows<T, 4>(m, n, k, A, sa0, sa1, B, sb0, C);
    case 8:
      return small_rows<T, 8>(m, n, k, A, sa0, sa1, B, sb0, C);
    case 16:
      return small_rows<T, 16>(m, n, k, A, sa0, sa1, B, sb0, C);
    default:
      return small_rows<T, 0>(m, n, k, A, sa0, sa1, B, sb0, C);
  }
}

// The offsets of broadcast batch entry `bi` (row-major over `batch`) in a and b, whose leading
// strides are sa and sb.
std::pair<int64_t, int64_t> batch_offsets(int64_t bi, const Shape& batch, const Shape& sa, const Shape& sb) {
  int64_t offa = 0, offb = 0;
  for (int64_t d = static_cast<int64_t>(batch.size()) - 1, rest = bi; d >= 0; --d) {
    const int64_t i = rest % batch[d];
    rest /= batch[d];
    offa += i * sa[d];
    offb += i * sb[d];
  }
  return {offa, offb};
}

// Calls f(bi, offset in a, offset in b) for every broadcast batch entry, entries split over
// threads, `work` the multiply-adds of one entry. Within a thread's range the offsets are stepped
// like an odometer over the batch index (no division per entry: the entries may be tiny).
template <class F>
void for_each_entry(const Shape& batch, int64_t work, const Tensor& a, const Tensor& b, F f) {
  const int64_t nd = static_cast<int64_t>(batch.size());
  const Shape &sa = a.strides(), &sb = b.strides();
  parallel_for(numel(batch), std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(work, 1)),
               [&](int64_t b0, int64_t b1) {
                 Shape index(static_cast<size_t>(nd));
                 for (int64_t d = nd - 1, rest = b0; d >= 0; --d) {
                   index[d] = rest % batch[d];
                   rest /= batch[d];
                 }
                 auto [offa, offb] = batch_offsets(b0, batch, sa, sb);
                 for (int64_t bi = b0; bi < b1; ++bi) {
                   f(bi, offa, offb);
                   for (int64_t d = nd - 1; d >= 0; --d) {  // the next entry's index and offsets
                     offa += sa[d];
                     offb += sb[d];
                     if (++index[d] < batch[d]) break;
                     offa -= batch[d] * sa[d];
                     offb -= batch[d] * sb[d];
                     index[d] = 0;
                   }
                 }
               });
}

// out[i] = a[i] @ b[i] for every broadcast batch entry i, read on the operands' own strides.
template <class T>
void small_products(const Shape& batch, int64_t m, int64_t n, int64_t k, const Tensor& a, const Tensor& b,
                    const Tensor& out) {
  const int64_t nd = static_cast<int64_t>(batch.size());
  const Shape &sa = a.strides(), &sb = b.strides();
  const T* pa = a.template data<T>();
  const T* pb = b.template data<T>();
  T* o = out.template data<T>();
  thread_local std::vector<T> packed;
  for_each_entry(batch, m * n * k, a, b, [&](int64_t bi, int64_t offa, int64_t offb) {
    if (packed.size() < static_cast<size_t>(k * n)) packed.resize(static_cast<size_t>(k * n));
    small_product<T>(m, n, k, pa + offa, sa[nd], sa[nd + 1], pb + offb, sb[nd], sb[nd + 1], o + bi * m * n,
                     packed.data());
  });
}

// out[i] = a[i] @ b[i] with an inner dimension of 1 (a [.., m, 1], b [.., 1, n]): outer
// products, written once each, rounded as BLAS rounds them (0 + a·b, so −0 becomes +0).
template <class T>
void outer_products(const Shape& batch, int64_t m, int64_t n, const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t nd = static_cast<int64_t>(batch.size());
  const int64_t sa = a.strides()[nd], sb = b.strides()[nd + 1];
  const T* pa = a.template data<T>();
  const T* pb = b.template data<T>();
  T* o = out.template data<T>();
  for_each_entry(batch, m * n, a, b, [&](int64_t bi, int64_t offa, int64_t offb) {
    const T* col = pa + offa;
    const T* row = pb + offb;
    for (int64_t i = 0; i < m; ++i) {
      T* __restrict c = o + (bi * m + i) * n;
      const T ai = col[i * sa];
      for (int64_t j = 0; j < n; ++j) c[j] = T(0) + ai * row[j * sb];
    }
  });
}

// out[i] = op(a[i]) op(b[i]) through BLAS, one GEMM per broadcast batch entry. Entries too small
// to be split over threads themselves are spread over the threads instead, each still one BLAS
// call: the same results as one after the other.
template <class T>
void blas_products(const Shape& batch, int64_t m, int64_t n, int64_t k, const Tensor& a, GemmOperand oa,
                   const Tensor& b, GemmOperand ob, const Tensor& out) {
  const T* pa = a.template data<T>();
  const T* pb = b.template data<T>();
  T* o = out.template data<T>();
  const auto entry = [&](int64_t bi, int64_t offa, int64_t offb) {
    gemm<T>(oa.trans, ob.trans, m, n, k, pa + offa, oa.ld, pb + offb, ob.ld, o + bi * m * n, n);
  };
  if (m * n * k < 2 * kGemmPartMacs) return for_each_entry(batch, m * n * k, a, b, entry);
  for (int64_t bi = 0; bi < numel(batch); ++bi) {
    const auto [offa, offb] = batch_offsets(bi, batch, a.strides(), b.strides());
    entry(bi, offa, offb);
  }
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  if (a_in.dtype() != b_in.dtype())
    throw std::invalid_argument(
        fmt::format("matmul: dtypes {} and {} differ", dtype_name(a_in.dtype()), dtype_name(b_in.dtype())));
  if (a_in.dim() == 0 || b_in.dim() == 0) throw std::invalid_argument("matmul: both operands need at least 1 dim");
  const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
  Tensor a = a_vec ? unsqueeze(a_in, 0) : a_in;
  Tensor b = b_vec ? unsqueeze(b_in, 1) : b_in;
  const int64_t m = a.size(-2), k = a.size(-1), k2 = b.size(-2), n = b.size(-1);
  if (k != k2)
    throw std::invalid_argument(fmt::format("matmul: shapes {} and {} do not align ({} != {})", shape_str(a_in.shape()),
                                            shape_str(b_in.shape()), k, k2));
  const Shape a_batch(a.shape().begin(), a.shape().end() - 2);
  const Shape b_batch(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(a_batch, b_batch, "matmul");
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  // GEMM overwrites every output entry; with an empty inner dimension the product is zeros().
  Tensor out = k > 0 ? Tensor::empty(out_shape, a.dtype()) : Tensor::zeros(out_shape, a.dtype());

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
    Tensor ae = expand(a, [&] {
      Shape s = batch;
      s.push_back(m);
      s.push_back(k);
      return s;
    }());
    Tensor be = expand(b, [&] {
      Shape s = batch;
      s.push_back(k);
      s.push_back(n);
      return s;
    }());
    if (m * n * k <= kSmallProduct) return small_products<T>(batch, m, n, k, ae, be, out);
    if (k == 1) return outer_products<T>(batch, m, n, ae, be, out);
    if (!blas_layout(ae.strides(), m, k, oa)) {
      ae = ae.contiguous();
      blas_layout(ae.strides(), m, k, oa);
    }
    if (!blas_layout(be.strides(), k, n, ob)) {
      be = be.contiguous();
      blas_layout(be.strides(), k, n, ob);
    }
    blas_products<T>(batch, m, n, k, ae, oa, be, ob, out);
  });
  if (a_vec) out = squeeze(out, -2);
  if (b_vec) out = squeeze(out, -1);
  return out;
}

}  // namespace pathgrad::kernel
