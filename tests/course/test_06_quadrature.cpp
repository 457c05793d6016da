// Lesson 6's exercises (examples/course/06_quadrature): rules on pieces, ReLU crossings, kink
// splitting and the observed order, on integrands whose integrals are known in closed form and
// on a ReLU MLP step checked against F(θ1) − F(θ0).
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "examples/course/06_quadrature/exercises.hpp"
#include "examples/course/common/flat_model.hpp"
#include "nn/loss.hpp"
#include "optim/sgd.hpp"

using namespace pathgrad;
using namespace pathgrad::course;
namespace K = pathgrad::kernel;
namespace ex = pathgrad::explaind;

namespace {

const double kKink = 1.0 / std::numbers::pi;  // not a node of any rule on dyadic pieces

// Two integrands at once, [M = 2]: the derivative of relu(t − c) (a jump of 1 at c, integral
// 1 − c) and e^t (smooth, integral e − 1).
Tensor kinked_and_smooth(double t) {
  return Tensor::from_vector(std::vector<double>{t > kKink ? 1.0 : 0.0, std::exp(t)}, {2}, DType::Float64);
}

std::vector<double> uniform(int n) {
  std::vector<double> e;
  for (int k = 0; k <= n; ++k) e.push_back(static_cast<double>(k) / n);
  return e;
}

// |error| of the rule on n equal pieces for integrand m of kinked_and_smooth.
double error(const ex::QuadratureRule& rule, int n, int64_t m) {
  const double exact[2] = {1.0 - kKink, std::numbers::e - 1.0};
  return std::abs(integrate_pieces(kinked_and_smooth, uniform(n), rule).at({m}) - exact[m]);
}

}  // namespace

TEST_CASE("exercise 1: a rule on pieces — exact on pieces that end at the kink, first order across it") {
  for (const ex::QuadratureRule& rule : {ex::midpoint(1), ex::gauss_legendre(2), ex::gauss_legendre(4)}) {
    INFO(rule.name);
    const Tensor split = integrate_pieces(kinked_and_smooth, {0.0, kKink, 1.0}, rule);
    REQUIRE(split.shape() == Shape{2});
    CHECK(std::abs(split.at({0}) - (1.0 - kKink)) < 1e-15);  // a constant on each piece: exact
    // Across the kink the error is at most jump × piece width, and not much less.
    for (int n : {4, 16, 64}) CHECK(error(rule, n, 0) <= 1.0 / n);
  }
  CHECK(error(ex::gauss_legendre(4), 16, 0) > 1e-3);
  // The smooth integrand: composite GL(2) on 4 pieces, error ≈ h⁴·e/4320 ≈ 2.5e-6.
  CHECK(error(ex::gauss_legendre(2), 4, 1) < 1e-5);
  CHECK(error(ex::gauss_legendre(2), 4, 1) > 1e-7);
}

TEST_CASE("exercise 2: the crossings of linearly moving pre-activations") {
  const Tensor z0 = Tensor::from_vector(std::vector<double>{1, -2, 0.5, 3, 0}, {5}, DType::Float64);
  const Tensor z1 = Tensor::from_vector(std::vector<double>{-1, 2, 0.7, -1, 1}, {5}, DType::Float64);
  const std::vector<double> t = linear_crossings(z0, z1);
  CHECK(t == std::vector<double>{0.5, 0.5, 0.75});  // exact in binary: 1/2, 2/4, 3/4
  // Random pre-activations: each crossing zeroes its unit, and a fine scan finds as many.
  Generator g(11);
  const Tensor a = rand_normal({6, 16}, 0, 1, g, DType::Float64), b = rand_normal({6, 16}, 0, 1, g, DType::Float64);
  const std::vector<double> c = linear_crossings(a, b);
  int64_t scanned = 0;
  for (int64_t u = 0; u < 96; ++u) {
    double previous = a.to_vector()[u];
    for (int k = 1; k <= 1000; ++k) {
      const double z = a.to_vector()[u] + (k / 1000.0) * (b.to_vector()[u] - a.to_vector()[u]);
      scanned += (previous < 0) != (z < 0);
      previous = z;
    }
  }
  CHECK(static_cast<int64_t>(c.size()) == scanned);
  CHECK(std::is_sorted(c.begin(), c.end()));
  for (double t_c : c) {
    double nearest = 1;
    for (int64_t u = 0; u < 96; ++u)
      nearest = std::min(nearest, std::abs(a.to_vector()[u] + t_c * (b.to_vector()[u] - a.to_vector()[u])));
    CHECK(nearest < 1e-14);  // |z| ≤ a few units, rounding ~1e-16
  }
}

TEST_CASE("exercise 3: the edges of kink splitting") {
  CHECK(split_edges({}, 1) == std::vector<double>{0.0, 1.0});
  CHECK(split_edges({0.25, 0.25, 0.5}, 2) == std::vector<double>{0.0, 0.125, 0.25, 0.375, 0.5, 0.75, 1.0});
}

TEST_CASE("exercise 4: the observed order — h^p for smooth integrands, first order across a kink") {
  std::vector<double> n{1, 2, 4, 8, 16}, e;
  for (double x : n) e.push_back(3.0 * std::pow(x, -4.0));
  CHECK(observed_order(n, e) == doctest::Approx(4.0).epsilon(1e-12));
  CHECK_THROWS_AS(observed_order({1.0}, {1.0}), std::invalid_argument);
  CHECK_THROWS_AS(observed_order({1.0, 2.0}, {1.0, 0.0}), std::invalid_argument);
  // The midpoint rule on e^t: second order (error ≈ e·h²/24; 1..16 pieces fit 2 to ±0.05).
  std::vector<double> smooth;
  for (double x : n) smooth.push_back(error(ex::midpoint(1), static_cast<int>(x), 1));
  CHECK(std::abs(observed_order(n, smooth) - 2.0) < 0.05);
  // Across the kink every rule is first order: the error of the piece holding the kink is a
  // fraction of jump × width that depends on where the kink falls, so the fit over 1..256 pieces
  // is first order up to that scatter.
  std::vector<double> pieces{1, 2, 4, 8, 16, 32, 64, 128, 256};
  for (const ex::QuadratureRule& rule : {ex::midpoint(1), ex::gauss_legendre(2), ex::gauss_legendre(4)}) {
    std::vector<double> evaluations, kinked;
    for (double x : pieces) {
      evaluations.push_back(x * static_cast<double>(rule.nodes.size()));
      kinked.push_back(error(rule, static_cast<int>(x), 0));
    }
    INFO(rule.name);
    const double p = observed_order(evaluations, kinked);
    CHECK(p > 0.6);
    CHECK(p < 1.4);
  }
}

TEST_CASE("on a ReLU MLP step, splitting at the crossings makes Gauss–Legendre exact") {
  auto model = make_tiny_mlp(2, 16, 3, Activation::Relu, 2);
  const PlanePoints data = sector_points(30, 7);
  const FlatView view(*model);
  const Tensor theta0 = view.theta();
  optim::SGD opt(model->named_parameters(), optim::SGDOptions(2.0));  // a large step: many kinks
  nn::nll_loss(model->forward(data.x), data.y).backward();
  opt.step();
  const Tensor theta1 = view.theta(), delta = K::sub(theta1, theta0);
  // The ReLU crossings of training input i's first-layer units along the step.
  auto crossings_of = [&](int64_t i) {
    NoGradGuard no_grad;
    const Tensor xi = K::narrow(data.x, 0, i, 1);  // [1, 2]
    view.load(theta0);
    const Tensor z0 = model->preactivation(xi).clone();  // [1, 16]
    view.load(theta1);
    return linear_crossings(z0, model->preactivation(xi));
  };
  int64_t i = 0;  // the first input whose units cross at least twice
  while (i < 30 && crossings_of(i).size() < 2) ++i;
  REQUIRE(i < 30);
  const std::vector<double> kinks = crossings_of(i);
  const Tensor x = row(data.x, i);
  const int64_t label = static_cast<int64_t>(data.y.at({i}));
  auto value = [&](const Tensor& theta) {
    NoGradGuard no_grad;
    view.load(theta);
    return log_prob(*model, x, label).item();
  };
  // g(t) = ∇F(θ0 + tΔθ)·Δθ from the full gradient (not the per-sample contraction the program uses).
  const PathDerivative g = [&](double t) {
    view.load(K::add(theta0, K::mul_scalar(delta, t)));
    const double dF_dt = dot(view.gradient(log_prob(*model, x, label)), delta);
    return Tensor::from_vector(std::vector<double>{dF_dt}, {1}, DType::Float64);
  };
  const double change = value(theta1) - value(theta0);
  // The same cost both ways: 8 parts per kink-free interval, or as many equal pieces.
  const int pieces = 8 * static_cast<int>(kinks.size() + 1);
  const double split = std::abs(integrate_pieces(g, split_edges(kinks, 8), ex::gauss_legendre(4)).item() - change);
  const double equal = std::abs(integrate_pieces(g, uniform(pieces), ex::gauss_legendre(4)).item() - change);
  MESSAGE("GL(4), " << pieces << " pieces: |residual| " << split << " split at the kinks, " << equal << " equal");
  // Between kinks the integrand is smooth (a log-softmax of a quadratic in t) and GL(4) on
  // eighths converges to rounding: |F| ~ 1, P = 99 products, ~1e-14. Equal pieces keep a
  // fraction of jump × width.
  CHECK(split < 1e-12);
  CHECK(equal > 1e-9);
}
