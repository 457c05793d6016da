// Tests for autograd/active_fractions.hpp: the active fractions of switching ReLU units and the
// routes of max-pool windows whose maximum moves, and the backward passes that use them.
#include <doctest/doctest.h>

#include <vector>

#include "autograd/active_fractions.hpp"
#include "autograd/engine.hpp"
#include "autograd/ops.hpp"
#include "tensor/kernels.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

namespace {
Tensor f64(std::vector<double> v, const Shape& shape) { return Tensor::from_vector(v, shape, DType::Float64); }
}  // namespace

TEST_CASE("relu_fractions: the active share of the piece for units whose sign differs at its ends") {
  const Tensor za = f64({-1, 2, 3, -4, 0, 0}, {1, 6});
  const Tensor zb = f64({3, -2, 1, -1, 5, -5}, {1, 6});
  const Tensor f = relu_fractions(za, zb);
  // switches on at t = 1/4: active 3/4; off at t = 1/2: active 1/2; no switch: −1; from exactly 0
  // (inactive, as relu's derivative there) to positive: active the whole piece; 0 to negative: none.
  const std::vector<double> expected{0.75, 0.5, -1, -1, 1.0, -1};
  for (int64_t u = 0; u < 6; ++u) CHECK(f.at({0, u}) == doctest::Approx(expected[u]).epsilon(1e-15));
}

TEST_CASE("relu's backward uses the fractions where given and its 0/1 derivative elsewhere") {
  const Tensor z = f64({-0.5, 0.5, 2.0, -3.0}, {1, 4});
  const Tensor fractions = f64({0.25, -1, -1, 0.75}, {1, 4});
  Tensor x = z.clone();
  x.set_requires_grad(true);
  {
    ActiveFractions guard({fractions}, {});
    sum(relu(x)).backward();
  }
  const std::vector<double> expected{0.25, 1.0, 1.0, 0.75};
  for (int64_t u = 0; u < 4; ++u) CHECK(x.grad().at({0, u}) == expected[u]);
  // Without the guard relu is the plain one again; a mismatched shape is refused.
  Tensor y = z.clone();
  y.set_requires_grad(true);
  sum(relu(y)).backward();
  CHECK(y.grad().at({0, 0}) == 0.0);
  ActiveFractions wrong({f64({0.5}, {1, 1})}, {});
  CHECK_THROWS_WITH_AS(relu(y), doctest::Contains("ActiveFractions: fractions"), std::invalid_argument);
}

TEST_CASE("pool_route: a window whose maximum moves splits its gradient where the two values cross") {
  // One 2x2 window: at a the maximum is position 0 (3 > 1), at b position 1 (2 > 1). x0 − x1 goes
  // from 2 to −1, linearly crossing zero at 2/3 of the piece: 2/3 of the gradient to position 0.
  KinkRecorder::Pool a{f64({3, 1, 0, 0}, {1, 1, 2, 2}), Tensor::from_vector(std::vector<int64_t>{0}, {1, 1, 1, 1})};
  KinkRecorder::Pool b{f64({1, 2, 0, 0}, {1, 1, 2, 2}), Tensor::from_vector(std::vector<int64_t>{1}, {1, 1, 1, 1})};
  const PoolRoute route = pool_route(a, b);
  CHECK(route.share.at({0, 0, 0, 0}) == doctest::Approx(2.0 / 3.0).epsilon(1e-15));
  Tensor x = f64({1.5, 1.6, 0, 0}, {1, 1, 2, 2});
  x.set_requires_grad(true);
  {
    ActiveFractions guard({}, {route});
    sum(max_pool2d(x, 2)).backward();
  }
  CHECK(x.grad().at({0, 0, 0, 0}) == doctest::Approx(2.0 / 3.0).epsilon(1e-15));
  CHECK(x.grad().at({0, 0, 0, 1}) == doctest::Approx(1.0 / 3.0).epsilon(1e-15));
  CHECK(x.grad().at({0, 0, 1, 0}) == 0.0);
  // A window that keeps its maximum routes everything to it.
  const PoolRoute still = pool_route(a, a);
  CHECK(still.share.at({0, 0, 0, 0}) == 1.0);
}

TEST_CASE("one moving ReLU layer: the gradient at one node with active fractions is the exact path integral") {
  // f(W) = v · relu(W x) along W(t) = W0 + tΔ: each pre-activation is linear in t, so
  // ∫₀¹ ∇_W f dt = (v ⊙ active fraction) xᵀ and ∫₀¹ ∇f·Δ dt = f(W1) − f(W0), exactly; the plain
  // 0/1 derivative at the midpoint misses every unit that switches.
  Generator gen(11);
  const Tensor x = rand_normal({5, 1}, 0, 1, gen, DType::Float64);
  const Tensor v = rand_normal({1, 32}, 0, 1, gen, DType::Float64);
  const Tensor w0 = rand_normal({32, 5}, 0, 1, gen, DType::Float64);
  const Tensor delta = rand_normal({32, 5}, 0, 1.5, gen, DType::Float64);
  auto f_at = [&](double t) {
    NoGradGuard no_grad;
    return K::matmul(v, K::relu(K::matmul(K::add(w0, K::mul_scalar(delta, t)), x))).item();
  };
  auto slope_at_midpoint = [&](bool fractions) {  // ∇f(W(1/2))·Δ
    const Tensor za = K::reshape(K::matmul(w0, x), {1, 32});
    const Tensor zb = K::reshape(K::matmul(K::add(w0, delta), x), {1, 32});
    Tensor w = K::add(w0, K::mul_scalar(delta, 0.5));
    w.set_requires_grad(true);
    {
      ActiveFractions guard(
          fractions ? std::vector<Tensor>{K::reshape(relu_fractions(za, zb), {32, 1})} : std::vector<Tensor>{}, {});
      matmul(v, relu(matmul(w, x))).backward();
    }
    return K::sum(K::mul(w.grad(), delta), {0, 1}).item();
  };
  const double change = f_at(1.0) - f_at(0.0);
  CHECK(slope_at_midpoint(true) == doctest::Approx(change).epsilon(1e-13));
  CHECK(std::abs(slope_at_midpoint(false) - change) > 1e-3);
}
