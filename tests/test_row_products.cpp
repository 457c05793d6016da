// Tests for tensor/row_products.hpp: C = A·Bᵀ against a long-double sum within the rounding bound
// of a float64 dot product, with both micro-kernels, on shapes that leave every block, panel and
// tile partly filled; the same bits for any thread count; errors named.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"
#include "tensor/row_products.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

namespace {

// Uniform values in [-1, 1) as a float64 [rows, cols] tensor.
Tensor uniform(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(rows * cols));
  for (double& x : v) x = u(gen);
  return Tensor::from_vector(v, {rows, cols}, DType::Float64);
}

std::vector<K::RowProductKernel> kernels_here() {
  std::vector<K::RowProductKernel> ks{K::RowProductKernel::Portable};
  if (K::best_row_product_kernel() == K::RowProductKernel::Avx2Fma) ks.push_back(K::RowProductKernel::Avx2Fma);
  return ks;
}

// |ĉ − c| ≤ γ_K Σ_k |a_k b_k| for any order of a float64 sum of K products (with or without FMA),
// γ_K = K·u / (1 − K·u), u = 2^-53; the long-double reference (u = 2^-64) adds its own, far
// smaller, bound.
void check_against_long_double(const Tensor& a, const Tensor& b, const Tensor& c) {
  const int64_t M = a.size(0), N = b.size(0), Kdim = a.size(1);
  const double u = std::ldexp(1.0, -53), gamma = Kdim * u / (1.0 - Kdim * u) + Kdim * std::ldexp(1.0, -64);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      long double exact = 0, magnitude = 0;
      for (int64_t k = 0; k < Kdim; ++k) {
        const long double p = static_cast<long double>(a.at({i, k})) * b.at({j, k});
        exact += p;
        magnitude += std::fabs(p);
      }
      const double err = std::fabs(c.at({i, j}) - static_cast<double>(exact));
      if (err > gamma * static_cast<double>(magnitude))
        FAIL("C[" << i << ", " << j << "] = " << c.at({i, j}) << ", exact " << static_cast<double>(exact) << ": error "
                  << err << " above the bound " << gamma * static_cast<double>(magnitude));
    }
}

}  // namespace

TEST_CASE("row_products: A·Bᵀ within a float64 dot product's rounding bound, both micro-kernels") {
  // M past a 4-row tile, N past a 96-row panel and a 3-row tile, K past a 256 block and 4 lanes.
  const std::vector<std::array<int64_t, 3>> shapes{{1, 1, 1}, {5, 7, 3}, {9, 100, 257}, {4, 97, 600}, {2, 3, 1030}};
  for (const K::RowProductKernel kernel : kernels_here())
    for (const auto& [M, N, Kdim] : shapes) {
      CAPTURE(M);
      CAPTURE(N);
      CAPTURE(Kdim);
      // Both operands as column ranges of wider matrices: rows with a stride past K.
      const Tensor a = K::narrow(uniform(M, Kdim + 5, 1), 1, 2, Kdim);
      const Tensor b = K::narrow(uniform(N, Kdim + 3, 2), 1, 3, Kdim);
      const Tensor c = K::row_products(a, b, kernel);
      REQUIRE(c.shape() == Shape{M, N});
      check_against_long_double(a, b, c);
    }
}

TEST_CASE("row_products: the same bits on one thread and on two") {
  const Tensor a = uniform(6, 700, 3), b = uniform(400, 700, 4);  // 5 panels of B rows
  const int before = num_threads();
  set_num_threads(1);
  const std::vector<double> one = K::row_products(a, b).to_vector();
  set_num_threads(2);
  const std::vector<double> two = K::row_products(a, b).to_vector();
  set_num_threads(before);
  CHECK(one == two);
}

TEST_CASE("row_products: empty shapes and bad operands") {
  CHECK(K::row_products(uniform(3, 0, 1), uniform(4, 0, 2)).to_vector() == std::vector<double>(12, 0.0));
  CHECK(K::row_products(uniform(0, 5, 1), uniform(4, 5, 2)).shape() == Shape{0, 4});
  CHECK_THROWS_WITH_AS(K::row_products(uniform(3, 5, 1).to(DType::Float32), uniform(4, 5, 2)),
                       doctest::Contains("A is float32 [3, 5]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::row_products(uniform(3, 5, 1), uniform(4, 6, 2)),
                       doctest::Contains("differ in their row length"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::row_products(uniform(3, 5, 1), K::transpose(uniform(5, 4, 2), 0, 1)),
                       doctest::Contains("rows of B are not contiguous"), std::invalid_argument);
}
