// C = A·Bᵀ for few rows of A and many of B (tensor/row_products.hpp): blocks of K, panels of B
// rows kept in cache, a 4 × 3 micro-kernel along K (AVX2 + FMA when the CPU has it).
#include "tensor/row_products.hpp"

#include <fmt/format.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PATHGRAD_ROW_PRODUCTS_AVX2 1  // the AVX2 micro-kernel is compiled (x86 only)
#endif

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "tensor/parallel.hpp"

namespace pathgrad::kernel {
namespace {

constexpr int64_t kTileA = 4;     // rows of A per micro-kernel call
constexpr int64_t kTileB = 3;     // rows of B per micro-kernel call
constexpr int64_t kLanes = 4;     // interleaved partial sums along K (one AVX2 register)
constexpr int64_t kBlockK = 256;  // K per block: 4 rows of A and 3 of B (14 KiB) stay in L1
constexpr int64_t kPanelB = 96;   // B rows per panel at most: 96 × 2 KiB stay in L2

using Tile = double[kTileA][kTileB];
// out[i][j] = Σ_k a[i·kc + k] · b[j·kc + k] over kc (a multiple of kLanes): lane l sums the k ≡ l
// (mod 4), and the lanes are added as (l0 + l2) + (l1 + l3).
using MicroKernel = void (*)(const double* a, const double* b, int64_t kc, Tile& out);

void micro_portable(const double* a, const double* b, int64_t kc, Tile& out) {
  double acc[kTileA][kTileB][kLanes] = {};
  for (int64_t k = 0; k < kc; k += kLanes)
    for (int64_t i = 0; i < kTileA; ++i)
      for (int64_t j = 0; j < kTileB; ++j)
        for (int64_t l = 0; l < kLanes; ++l) acc[i][j][l] += a[i * kc + k + l] * b[j * kc + k + l];
  for (int64_t i = 0; i < kTileA; ++i)
    for (int64_t j = 0; j < kTileB; ++j) out[i][j] = (acc[i][j][0] + acc[i][j][2]) + (acc[i][j][1] + acc[i][j][3]);
}

#ifdef PATHGRAD_ROW_PRODUCTS_AVX2
[[gnu::target("avx2,fma")]] void micro_avx2(const double* a, const double* b, int64_t kc, Tile& out) {
  __m256d acc[kTileA][kTileB];
  for (int64_t i = 0; i < kTileA; ++i)
    for (int64_t j = 0; j < kTileB; ++j) acc[i][j] = _mm256_setzero_pd();
  for (int64_t k = 0; k < kc; k += kLanes) {
    __m256d bj[kTileB];
    for (int64_t j = 0; j < kTileB; ++j) bj[j] = _mm256_loadu_pd(b + j * kc + k);
    for (int64_t i = 0; i < kTileA; ++i) {
      const __m256d ai = _mm256_loadu_pd(a + i * kc + k);
      for (int64_t j = 0; j < kTileB; ++j) acc[i][j] = _mm256_fmadd_pd(ai, bj[j], acc[i][j]);
    }
  }
  for (int64_t i = 0; i < kTileA; ++i)
    for (int64_t j = 0; j < kTileB; ++j) {
      const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(acc[i][j]), _mm256_extractf128_pd(acc[i][j], 1));
      out[i][j] = _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
    }
}
#endif

int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// Rows [r0, r0 + rows) of x (row stride ld), columns [k0, k0 + kc), into dst [rows_padded, kcp]
// with zeros past the rows and columns given.
void pack(const double* x, int64_t ld, int64_t r0, int64_t rows, int64_t rows_padded, int64_t k0, int64_t kc,
          int64_t kcp, double* dst) {
  for (int64_t r = 0; r < rows_padded; ++r) {
    double* d = dst + r * kcp;
    int64_t filled = 0;
    if (r < rows) {
      const double* src = x + (r0 + r) * ld + k0;
      std::copy(src, src + kc, d);
      filled = kc;
    }
    std::fill(d + filled, d + kcp, 0.0);
  }
}

struct Operands {
  const double* a;
  int64_t lda, m;
  const double* b;
  int64_t ldb, n, k;
  double* c;           // [m, n]
  int64_t panel_rows;  // B rows per panel: at most kPanelB, a multiple of kTileB
};

// C's columns of the B panels [p0, p1), every block of K in turn.
void panels(const Operands& o, int64_t p0, int64_t p1, MicroKernel micro) {
  const int64_t mp = round_up(o.m, kTileA);
  std::vector<double> pa(static_cast<size_t>(mp * kBlockK)), pb(static_cast<size_t>(o.panel_rows * kBlockK));
  Tile tile;
  for (int64_t k0 = 0; k0 < o.k; k0 += kBlockK) {
    const int64_t kc = std::min(kBlockK, o.k - k0), kcp = round_up(kc, kLanes);
    pack(o.a, o.lda, 0, o.m, mp, k0, kc, kcp, pa.data());
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t j0 = p * o.panel_rows, rows = std::min(o.panel_rows, o.n - j0),
                    rows_padded = round_up(rows, kTileB);
      pack(o.b, o.ldb, j0, rows, rows_padded, k0, kc, kcp, pb.data());
      for (int64_t i = 0; i < mp; i += kTileA)
        for (int64_t j = 0; j < rows_padded; j += kTileB) {
          micro(pa.data() + i * kcp, pb.data() + j * kcp, kcp, tile);
          for (int64_t ti = 0; ti < std::min(kTileA, o.m - i); ++ti)
            for (int64_t tj = 0; tj < std::min(kTileB, rows - j); ++tj)
              o.c[(i + ti) * o.n + j0 + j + tj] += tile[ti][tj];
        }
    }
  }
}

// Row stride of a 2-D float64 operand whose rows are contiguous; throws otherwise.
int64_t row_stride(const Tensor& x, const char* name) {
  if (x.dtype() != DType::Float64 || x.dim() != 2)
    throw std::invalid_argument(fmt::format("row_products: {} is {} {} (expected float64 [rows, K])", name,
                                            dtype_name(x.dtype()), shape_str(x.shape())));
  if (x.size(1) > 1 && x.strides()[1] != 1)
    throw std::invalid_argument(
        fmt::format("row_products: the rows of {} are not contiguous (strides {})", name, shape_str(x.strides())));
  return std::max(x.strides()[0], x.size(1));
}

}  // namespace

RowProductKernel best_row_product_kernel() {
#ifdef PATHGRAD_ROW_PRODUCTS_AVX2
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) return RowProductKernel::Avx2Fma;
#endif
  return RowProductKernel::Portable;
}

Tensor row_products(const Tensor& a, const Tensor& b) { return row_products(a, b, best_row_product_kernel()); }

Tensor row_products(const Tensor& a, const Tensor& b, RowProductKernel kernel) {
  if (kernel == RowProductKernel::Avx2Fma && best_row_product_kernel() != RowProductKernel::Avx2Fma)
    throw std::invalid_argument("row_products: the AVX2 micro-kernel asked for on a CPU without AVX2 and FMA");
  const int64_t lda = row_stride(a, "A"), ldb = row_stride(b, "B");
  if (a.size(1) != b.size(1))
    throw std::invalid_argument(fmt::format("row_products: A {} and B {} differ in their row length",
                                            shape_str(a.shape()), shape_str(b.shape())));
  Tensor c = Tensor::zeros({a.size(0), b.size(0)}, DType::Float64);
  if (c.numel() == 0 || a.size(1) == 0) return c;
  // As many panels of B rows for every thread, none above kPanelB rows.
  const int64_t n = b.size(0), panels_wanted = round_up((n + kPanelB - 1) / kPanelB, num_threads());
  const int64_t panel_rows = round_up((n + panels_wanted - 1) / panels_wanted, kTileB);
  const Operands o{a.data<double>(), lda, a.size(0), b.data<double>(), ldb, n, a.size(1), c.data<double>(), panel_rows};
  MicroKernel micro = micro_portable;
#ifdef PATHGRAD_ROW_PRODUCTS_AVX2
  if (kernel == RowProductKernel::Avx2Fma) micro = micro_avx2;
#endif
  parallel_for((n + panel_rows - 1) / panel_rows, 1, [&](int64_t p0, int64_t p1) { panels(o, p0, p1, micro); });
  return c;
}

}  // namespace pathgrad::kernel
