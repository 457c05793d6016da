// Tests for tensor/: creation, views, broadcasting kernels, reductions, matmul, im2col, random.
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/kernels.hpp"
#include "tensor/random.hpp"
#include "tensor/tensor.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

TEST_CASE("creation and element access") {
  Tensor t = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::Float64);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.at({1, 2}) == 6.0);
  CHECK(Tensor::eye(3).at({1, 1}) == 1.0);
  CHECK(Tensor::eye(3).at({1, 0}) == 0.0);
  CHECK(Tensor::arange(4, DType::Int64).to_vector() == std::vector<double>{0, 1, 2, 3});
  CHECK_THROWS_AS(Tensor::from_vector(std::vector<double>{1, 2}, {3}), std::invalid_argument);
  CHECK_THROWS_AS(t.at({2, 0}), std::out_of_range);
  CHECK_THROWS_AS(t.item(), std::invalid_argument);
}

TEST_CASE("views share storage and contiguous copies") {
  Tensor t = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::Float64);
  Tensor tt = K::transpose(t, 0, 1);
  CHECK_FALSE(tt.is_contiguous());
  CHECK(tt.at({2, 1}) == 6.0);
  CHECK(tt.contiguous().to_vector() == std::vector<double>{1, 4, 2, 5, 3, 6});
  Tensor n = K::narrow(t, 1, 1, 2);
  n.set({0, 0}, 20.0);
  CHECK(t.at({0, 1}) == 20.0);
  Tensor e = K::expand(K::reshape(Tensor::arange(3, DType::Float64), {1, 3}), {4, 3});
  CHECK(e.at({3, 2}) == 2.0);
}

TEST_CASE("broadcasting arithmetic and dtype errors") {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3, 1}, DType::Float64);
  Tensor b = Tensor::from_vector(std::vector<double>{10, 20}, {2}, DType::Float64);
  Tensor c = K::add(a, b);
  CHECK(c.shape() == Shape{3, 2});
  CHECK(c.to_vector() == std::vector<double>{11, 21, 12, 22, 13, 23});
  CHECK_THROWS_AS(K::add(a, Tensor::ones({2, 2}, DType::Float64)), std::invalid_argument);
  CHECK_THROWS_AS(K::add(a, Tensor::ones({3, 1}, DType::Float32)), std::invalid_argument);
}

TEST_CASE("reductions and stable softmax") {
  Tensor t = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::Float64);
  CHECK(K::sum(t).item() == 21.0);
  CHECK(K::sum(t, {0}).to_vector() == std::vector<double>{5, 7, 9});
  CHECK(K::sum(t, {1}, true).shape() == Shape{2, 1});
  CHECK(K::amax(t, {1}).to_vector() == std::vector<double>{3, 6});
  CHECK(K::argmax(t, 1).to_vector() == std::vector<double>{2, 2});
  Tensor big = Tensor::from_vector(std::vector<double>{1000, 1001, 1002}, {3}, DType::Float64);
  Tensor ls = K::log_softmax(big, 0);
  CHECK(std::isfinite(ls.at({0})));
  CHECK(std::abs(ls.at({2}) - (-std::log(1 + std::exp(-1.0) + std::exp(-2.0)))) < 1e-12);
  CHECK(std::abs(K::sum(K::softmax(big, 0)).item() - 1.0) < 1e-12);
}

TEST_CASE("matmul agrees with a direct sum, batched and transposed") {
  Generator gen(1);
  Tensor a = rand_normal({2, 3, 4, 5}, 0, 1, gen, DType::Float64);
  Tensor b = rand_normal({3, 5, 6}, 0, 1, gen, DType::Float64);
  Tensor c = K::matmul(a, b);
  REQUIRE(c.shape() == Shape{2, 3, 4, 6});
  double expect = 0;
  for (int64_t k = 0; k < 5; ++k) expect += a.at({1, 2, 3, k}) * b.at({2, k, 4});
  CHECK(std::abs(c.at({1, 2, 3, 4}) - expect) < 1e-12);
  Tensor bt = K::transpose(rand_normal({6, 5}, 0, 1, gen, DType::Float64), 0, 1);
  Tensor d = K::matmul(a, bt);
  Tensor d2 = K::matmul(a, bt.contiguous());
  CHECK(K::amax(K::abs(K::sub(d, d2))).item() < 1e-12);
  CHECK_THROWS_AS(K::matmul(a, Tensor::ones({4, 2}, DType::Float64)), std::invalid_argument);
}

TEST_CASE("random stream is fixed by the seed") {
  Generator g1(42), g2(42);
  CHECK(g1.next_u64() == g2.next_u64());
  Generator g3(0);
  // xoshiro256** seeded through splitmix64(0): the documented first output.
  CHECK(g3.next_u64() == 11091344671253066420ULL);
}
