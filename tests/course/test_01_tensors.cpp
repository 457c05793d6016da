// Lesson 1's exercises (examples/course/01_tensors/exercises.hpp) against independent answers:
// element_offset against Tensor::at on views, broadcast_shape against the library's
// broadcast_shapes, matmul_loops against OpenBLAS (kernel::matmul).
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "examples/course/01_tensors/exercises.hpp"
#include "tensor/kernels.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

namespace {

// Every element of t, read through element_offset, equals t.at(index) (exact: same double).
void check_offsets(const Tensor& t) {
  const Shape& s = t.shape();
  std::vector<int64_t> index(s.size(), 0);
  for (int64_t e = 0; e < t.numel(); ++e) {
    int64_t rest = e;
    for (int64_t d = static_cast<int64_t>(s.size()) - 1; d >= 0; --d) {
      index[d] = rest % s[d];
      rest /= s[d];
    }
    CHECK(t.data<double>()[course::element_offset(t.strides(), index)] == t.at(index));
  }
}

}  // namespace

TEST_CASE("1.1 element_offset finds every element of a contiguous tensor and of its views") {
  const Tensor base = K::reshape(Tensor::arange(24, DType::Float64), {2, 3, 4});  // [2, 3, 4]
  check_offsets(base);
  check_offsets(K::permute(base, {2, 0, 1}));                     // [4, 2, 3]
  check_offsets(K::narrow(K::transpose(base, 0, 2), 1, 1, 2));    // [4, 2, 2], offset 4
  check_offsets(K::expand(K::narrow(base, 0, 1, 1), {5, 3, 4}));  // stride 0 on dim 0
}

TEST_CASE("1.2 broadcast_shape agrees with the library's broadcast_shapes and rejects what it rejects") {
  const std::vector<std::pair<Shape, Shape>> ok = {{{3, 1}, {4}}, {{2, 1, 5}, {6, 1}},    {{}, {2, 3}},
                                                   {{1}, {7}},    {{5, 1, 1}, {1, 4, 1}}, {{0, 3}, {1, 3}}};
  for (const auto& [a, b] : ok) {
    CHECK(shape_str(course::broadcast_shape(a, b)) == shape_str(broadcast_shapes(a, b, "test")));
    CHECK(shape_str(course::broadcast_shape(b, a)) == shape_str(broadcast_shapes(b, a, "test")));
  }
  CHECK_THROWS_AS(course::broadcast_shape({3}, {4}), std::invalid_argument);
  CHECK_THROWS_AS(course::broadcast_shape({2, 3}, {3, 3, 2}), std::invalid_argument);
}

TEST_CASE("1.3 matmul_loops agrees with OpenBLAS, also on transposed views") {
  Generator gen(3);
  const int64_t n = 17, k = 33, m = 9;
  const Tensor a = rand_uniform({n, k}, -1, 1, gen, DType::Float64);
  const Tensor b = rand_uniform({k, m}, -1, 1, gen, DType::Float64);
  // Tolerance: each entry sums k products of |x| <= 1 in float64; any summation order is within
  // k * 2^-53 * k of the exact sum (the classic bound γ_k Σ|a||b|), so 2 k² 2^-53 covers both sides.
  const double tol = 2.0 * static_cast<double>(k * k) * std::ldexp(1.0, -53);
  const auto max_diff = [](const Tensor& x, const Tensor& y) { return K::amax(K::abs(K::sub(x, y))).item(); };
  CHECK(max_diff(course::matmul_loops(a, b), K::matmul(a, b)) <= tol);
  // b^T^T: the same values read through a [m, k] tensor transposed back (strides {1, k}).
  const Tensor b_strided = K::transpose(K::transpose(b, 0, 1).contiguous(), 0, 1);
  REQUIRE_FALSE(b_strided.is_contiguous());
  CHECK(max_diff(course::matmul_loops(a, b_strided), K::matmul(a, b)) <= tol);
  CHECK(course::matmul_loops(a, b).shape() == Shape{n, m});
  CHECK_THROWS_AS(course::matmul_loops(a, a), std::invalid_argument);
  CHECK_THROWS_AS(course::matmul_loops(a.to(DType::Float32), b), std::invalid_argument);
}
