// Tests for tensor/xtensor_view.hpp: xtensor views share the tensor's memory (contiguous and
// strided), expressions come back as tensors of the right dtype and shape, and a wrong element
// type is refused.
#include <doctest/doctest.h>

#include <xtensor/xmath.hpp>
#include <xtensor/xsort.hpp>
#include <xtensor/xview.hpp>

#include "tensor/kernels.hpp"
#include "tensor/xtensor_view.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

namespace {
Tensor iota(const Shape& shape, DType dtype) {
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return Tensor::from_vector(v, shape, dtype);
}
}  // namespace

TEST_CASE("an xtensor view reads and writes the tensor's own memory") {
  const Tensor t = iota({2, 3}, DType::Float64);
  auto v = as_xtensor<double>(t);
  REQUIRE(v.dimension() == 2);
  CHECK(v.shape()[0] == 2);
  CHECK(v.shape()[1] == 3);
  CHECK(v(1, 2) == 5.0);
  v(0, 1) = -7.0;               // through the view ...
  CHECK(t.at({0, 1}) == -7.0);  // ... into the tensor
  v *= 2.0;
  CHECK(t.at({1, 2}) == 10.0);
}

TEST_CASE("strided tensors are viewed as they are: transposed and narrowed, without a copy") {
  const Tensor t = iota({3, 4}, DType::Float32);
  const Tensor tt = K::transpose(t, 0, 1);    // [4, 3], strides {1, 4}
  const Tensor cols = K::narrow(t, 1, 1, 2);  // [3, 2], offset 1
  auto vt = as_xtensor<const float>(tt);
  auto vc = as_xtensor<const float>(cols);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j) CHECK(vt(i, j) == tt.at({i, j}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 2; ++j) CHECK(vc(i, j) == cols.at({i, j}));
  CHECK(&vc(0, 0) == t.data<float>() + 1);  // the same memory
  const Tensor empty = K::narrow(t, 0, 0, 0);
  CHECK(as_xtensor<const float>(empty).size() == 0);
}

TEST_CASE("xtensor expressions come back as tensors: broadcasting, reductions, argsort") {
  const Tensor a = iota({2, 3}, DType::Float64), b = iota({3}, DType::Float64);
  const Tensor sum = from_xtensor(as_xtensor<const double>(a) + as_xtensor<const double>(b));  // broadcast
  CHECK(sum.dtype() == DType::Float64);
  CHECK(sum.shape() == Shape{2, 3});
  CHECK(K::amax(K::abs(K::sub(sum, K::add(a, b)))).item() == 0.0);
  const Tensor rows = from_xtensor(xt::sum(as_xtensor<const double>(a), {1}));
  CHECK(rows.shape() == Shape{2});
  CHECK(rows.at({1}) == 3.0 + 4.0 + 5.0);
  const Tensor scores = Tensor::from_vector(std::vector<double>{0.5, -1.0, 2.0}, {3}, DType::Float64);
  const Tensor order = from_xtensor(xt::cast<int64_t>(xt::argsort(as_xtensor<const double>(scores))));
  CHECK(order.dtype() == DType::Int64);
  CHECK(order.to_vector() == std::vector<double>{1, 0, 2});
  const Tensor total = from_xtensor(xt::sum(as_xtensor<const double>(scores)));  // 0-d
  CHECK(total.dim() == 0);
  CHECK(total.item() == doctest::Approx(1.5));
}

TEST_CASE("a view of another element type is refused, naming both") {
  const Tensor t = iota({2}, DType::Float32);
  CHECK_THROWS_WITH_AS(as_xtensor<double>(t), doctest::Contains("float32"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(as_xtensor<const int64_t>(t), doctest::Contains("int64"), std::invalid_argument);
}
