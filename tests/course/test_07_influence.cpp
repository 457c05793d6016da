// Lesson 7's exercises (examples/course/07_influence): proponents, Spearman's rank correlation
// and retraining without a sample, against direct computations.
#include <doctest/doctest.h>

#include <cmath>

#include "examples/course/07_influence/exercises.hpp"
#include "examples/course/common/flat_model.hpp"
#include "nn/loss.hpp"

using namespace pathgrad;
using namespace pathgrad::course;
namespace K = pathgrad::kernel;

TEST_CASE("exercise 1: top_k finds proponents and opponents, ties by index") {
  const std::vector<double> v{0.5, -2.0, 3.0, 0.5, -2.0, 1.0};
  CHECK(top_k(v, 3, true) == std::vector<int64_t>{2, 5, 0});
  CHECK(top_k(v, 4, true) == std::vector<int64_t>{2, 5, 0, 3});
  CHECK(top_k(v, 2, false) == std::vector<int64_t>{1, 4});
  CHECK(top_k(v, 10, false).size() == 6);
  CHECK(top_k(v, 0, true).empty());
}

TEST_CASE("exercise 2: Spearman's rank correlation") {
  // Without ties it is 1 − 6 Σ d² / (n (n² − 1)), d the rank differences (here 0, 2, 1, 1, 2).
  const std::vector<double> a{0.1, 0.9, 0.3, 0.5, 0.7}, b{10, 2, 40, 30, 50};  // ranks 1 5 2 3 4 / 2 1 4 3 5
  CHECK(spearman(a, b) == doctest::Approx(1.0 - 6.0 * (1 + 16 + 4 + 0 + 1) / (5.0 * 24.0)).epsilon(1e-14));
  // Monotone transformations do not change ranks.
  std::vector<double> cubed;
  for (double x : a) cubed.push_back(x * x * x - 7);
  CHECK(spearman(a, cubed) == doctest::Approx(1.0).epsilon(1e-14));
  // Ties share their mean rank: ranks of b2 are 1, 2, 3.5, 5, 3.5, so ρ = 8 / √(10 · 9.5).
  CHECK(spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}) == doctest::Approx(8.0 / std::sqrt(95.0)).epsilon(1e-14));
  CHECK_THROWS_AS(spearman({1, 2}, {3, 3}), std::invalid_argument);
  CHECK_THROWS_AS(spearman({1}, {1}), std::invalid_argument);
}

TEST_CASE("exercise 3: leaving a sample out of one small step changes F by its kernel-machine term") {
  // One full-batch step from θ_0 on Σ_i ℓ_i: without sample j the update lacks −η ∇ℓ_j(θ_0), so
  // F(all) − F(all but j) = −η ∇F(θ_0)·∇ℓ_j(θ_0) + O(η²): the path-kernel term to first order.
  const PlanePoints data = sector_points(12, 9), probe = sector_points(1, 10);
  const Tensor x = row(probe.x, 0);
  const int64_t label = static_cast<int64_t>(probe.y.at({0}));
  auto model = make_tiny_mlp(2, 8, 3, Activation::Relu, 3);
  const FlatView view(*model);
  const Tensor dF = view.gradient(log_prob(*model, x, label));
  std::vector<int64_t> all(12);
  for (int64_t i = 0; i < 12; ++i) all[i] = i;
  for (int64_t j : {0, 5, 11}) {
    INFO("sample " << j);
    const Tensor dl =
        view.gradient(nn::nll_loss(model->forward(K::narrow(data.x, 0, j, 1)), K::narrow(data.y, 0, j, 1)));
    const double kernel = -dot(dF, dl);  // the term per unit of η
    std::vector<int64_t> keep;
    for (int64_t i : all)
      if (i != j) keep.push_back(i);
    // r(η) = LOO(η)/η − kernel is O(η): it halves with η.
    auto r = [&](double lr) {
      const FullBatchProblem p{data.x, data.y, 2, 8, 3, 3, lr, 1};
      return (trained_value(p, all, x, label) - trained_value(p, keep, x, label)) / lr - kernel;
    };
    CHECK(std::abs(kernel) > 1e-3);
    const double r1 = r(1e-3), r2 = r(2e-3);
    CHECK(std::abs(r1) < 1e-2 * std::abs(kernel));
    // Second order and above: r(2η)/r(η) = 2 + O(η). (With float64 and F ~ 1 the O(η²) term
    // ~1e-6 stays far above rounding, ~1e-16/η = 1e-13.)
    CHECK(r2 / r1 == doctest::Approx(2.0).epsilon(0.05));
  }
  // Zero steps: training changes nothing, with or without the sample.
  const FullBatchProblem none{data.x, data.y, 2, 8, 3, 3, 0.5, 0};
  NoGradGuard no_grad;
  CHECK(trained_value(none, {1, 2}, x, label) == log_prob(*model, x, label).item());
}
