// Products of a few long rows with many long rows: C = A·Bᵀ in float64 for A [M, K] with M of
// tens and B [N, K] with N of thousands and K of 10^5 — the shape of the sample level's kernel
// products (explaind/sample_buffers.hpp: probe gradients × per-sample buffers). OpenBLAS's dgemm
// packs all of B into a buffer of its own on every call and, with so few rows of A, each packed
// element serves only M multiply-adds; here B is read in panels that stay in cache, A once per
// block of K, and a 4 × 3 micro-kernel takes both along K.
#pragma once

#include <cstdint>

#include "tensor/tensor.hpp"

namespace pathgrad::kernel {

// C [M, N] = A·Bᵀ: a float64 [M, K] and b float64 [N, K], each with its rows of K contiguous
// elements (row stride at least K: a column range of a wider matrix is fine). The micro-kernel
// runs AVX2 with FMA when the CPU has both (checked at run time) and portable loops otherwise.
// Each entry is summed by one thread in a fixed order (blocks of K in turn, four interleaved
// partial sums inside a block), so the result does not depend on the thread count; it differs
// from dgemm's only by rounding. Throws std::invalid_argument naming the operands otherwise.
Tensor row_products(const Tensor& a, const Tensor& b);

// The micro-kernel row_products picks, exposed so that tests run both on any CPU.
enum class RowProductKernel { Avx2Fma, Portable };
RowProductKernel best_row_product_kernel();
Tensor row_products(const Tensor& a, const Tensor& b, RowProductKernel kernel);

}  // namespace pathgrad::kernel
