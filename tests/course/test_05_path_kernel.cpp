// Lesson 5's exercises (examples/course/05_path_kernel): the path-integrated gradient, the replica
// and the kernel machine's per-sample terms, each against a computation that does not use it.
#include <doctest/doctest.h>

#include <cmath>

#include "examples/course/05_path_kernel/exercises.hpp"
#include "examples/course/common/flat_model.hpp"
#include "nn/loss.hpp"
#include "optim/sgd.hpp"

using namespace pathgrad;
using namespace pathgrad::course;
namespace K = pathgrad::kernel;
namespace ex = pathgrad::explaind;

namespace {

// F(θ) = Σ_k c_k θ_k³: along a segment ∇F·Δθ is a quadratic in t, so Gauss–Legendre(2) (exact to
// degree 3) integrates it exactly and the midpoint rule (exact to degree 1) does not.
const Tensor kC = Tensor::from_vector(std::vector<double>{0.5, -1.0, 2.0, 0.25, -0.75}, {5}, DType::Float64);
double cubic(const Tensor& theta) { return dot(kC, K::mul(theta, K::mul(theta, theta))); }
Tensor cubic_gradient(const Tensor& theta) { return K::mul_scalar(K::mul(kC, K::mul(theta, theta)), 3.0); }

// A tanh TinyMlp trained with plain SGD (full batch of 12 points): θ_0..θ_steps.
struct SgdRun {
  std::unique_ptr<TinyMlp> model = make_tiny_mlp(2, 5, 3, Activation::Tanh, 4);
  PlanePoints data = sector_points(12, 5);
  std::vector<Tensor> trajectory;
  SgdRun(int steps, double lr) {
    const FlatView view(*model);
    optim::SGD opt(model->named_parameters(), optim::SGDOptions(lr));
    trajectory.push_back(view.theta());
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      nn::nll_loss(model->forward(data.x), data.y).backward();
      opt.step();
      trajectory.push_back(view.theta());
    }
  }
};

}  // namespace

TEST_CASE("exercise 1: φ·Δθ = F(θ1) − F(θ0) when the rule is exact for the integrand") {
  const Tensor theta0 = Tensor::from_vector(std::vector<double>{0.3, -1.2, 0.8, 2.0, -0.4}, {5}, DType::Float64);
  const Tensor theta1 = Tensor::from_vector(std::vector<double>{-0.9, 0.4, 1.1, 1.5, 0.6}, {5}, DType::Float64);
  const Tensor delta = K::sub(theta1, theta0);
  const double change = cubic(theta1) - cubic(theta0);  // −0.8545..., |F| < 20
  const Tensor phi = path_integrated_gradient(cubic_gradient, theta0, theta1, ex::gauss_legendre(2));
  REQUIRE(phi.shape() == Shape{5});
  // float64: a handful of products of numbers below 20 round to ~1e-14; 1e-12 leaves room.
  CHECK(std::abs(dot(phi, delta) - change) < 1e-12);
  // The midpoint rule misses the curvature: here by Σ_k c_k Δθ_k³ / 4 ≈ 0.32.
  const Tensor mid = path_integrated_gradient(cubic_gradient, theta0, theta1, ex::midpoint(1));
  CHECK(std::abs(dot(mid, delta) - change) > 0.1);
}

TEST_CASE("exercise 2: the replica follows a tanh MLP's F along its whole SGD trajectory") {
  SgdRun run(15, 0.8);
  const FlatView view(*run.model);
  const Tensor x = row(run.data.x, 3);
  const int64_t label = static_cast<int64_t>(run.data.y.at({3}));
  const ValueAt value = [&](const Tensor& theta) {
    NoGradGuard no_grad;
    view.load(theta);
    return log_prob(*run.model, x, label).item();
  };
  const GradientAt gradient = [&](const Tensor& theta) {
    view.load(theta);
    return view.gradient(log_prob(*run.model, x, label));
  };
  const std::vector<double> replica = replica_along(value, gradient, run.trajectory, ex::gauss_legendre(8));
  REQUIRE(replica.size() == run.trajectory.size());
  const std::vector<double> coarse = replica_along(value, gradient, run.trajectory, ex::midpoint(1));
  double worst = 0, worst_coarse = 0;
  for (size_t s = 0; s < replica.size(); ++s) {
    const double real = value(run.trajectory[s]);
    worst = std::max(worst, std::abs(replica[s] - real));
    worst_coarse = std::max(worst_coarse, std::abs(coarse[s] - real));
  }
  CHECK(std::abs(value(run.trajectory.back()) - value(run.trajectory.front())) > 0.1);  // training moved F
  // tanh is analytic: GL(8) on steps this short is exact to rounding (P = 33 products per step,
  // 15 steps, |F| ~ 1: ~1e-14); 1e-11 is the bound. One midpoint per step is visibly not.
  CHECK(worst < 1e-11);
  CHECK(worst_coarse > 1e-6);
}

TEST_CASE("exercise 3: the per-sample terms of an SGD step add up to the step's change of F") {
  const double lr = 0.7;
  SgdRun run(1, lr);  // one full-batch step: θ_1 = θ_0 − lr · (1/12) Σ_i ∇ℓ_i(θ_0), by the optimizer
  const FlatView view(*run.model);
  const Tensor x = row(run.data.x, 0);
  const GradientAt gradient = [&](const Tensor& theta) {
    view.load(theta);
    return view.gradient(log_prob(*run.model, x, 1));
  };
  const Tensor phi = path_integrated_gradient(gradient, run.trajectory[0], run.trajectory[1], ex::gauss_legendre(8));
  view.load(run.trajectory[0]);
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < 12; ++i)
    rows.push_back(view.gradient(
        nn::nll_loss(run.model->forward(K::narrow(run.data.x, 0, i, 1)), K::narrow(run.data.y, 0, i, 1))));
  const Tensor terms = sgd_kernel_terms(phi, K::stack(rows, 0), lr / 12.0);
  REQUIRE(terms.shape() == Shape{12});
  // The optimizer's own Δθ (independent of the per-sample gradients above).
  const double step_change = dot(phi, K::sub(run.trajectory[1], run.trajectory[0]));
  CHECK(std::abs(step_change) > 1e-3);
  CHECK(std::abs(K::sum(terms).item() - step_change) < 1e-13);  // 12 sums of 33 products, |term| < 1
  // Each term is −η a K(x, x_i): a sample whose loss gradient is zero contributes nothing.
  rows[5] = Tensor::zeros({view.size()}, DType::Float64);
  CHECK(sgd_kernel_terms(phi, K::stack(rows, 0), lr / 12.0).at({5}) == 0.0);
}
