// The one BLAS call of pathgrad's kernels: C = op(A) op(B) in row-major layout, float or double,
// through cblas_sgemm / cblas_dgemm on the calling thread's share of OpenBLAS (tensor/parallel.hpp).
#pragma once

#include <cblas.h>

#include <cstdint>
#include <type_traits>

namespace pathgrad::kernel {

// c [m, n] = op(a) [m, k] @ op(b) [k, n] (+ c when accumulate is set); op transposes when ta / tb
// is set; lda, ldb, ldc are the row strides of a, b and c as stored.
template <class T>
void blas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
               T* c, int64_t ldc, bool accumulate = false) {
  const auto TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, TA, TB, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a,
                static_cast<int>(lda), b, static_cast<int>(ldb), accumulate ? 1.0f : 0.0f, c, static_cast<int>(ldc));
  else
    cblas_dgemm(CblasRowMajor, TA, TB, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0, a,
                static_cast<int>(lda), b, static_cast<int>(ldb), accumulate ? 1.0 : 0.0, c, static_cast<int>(ldc));
}

}  // namespace pathgrad::kernel
