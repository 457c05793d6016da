// Lesson 4's exercises (examples/course/04_optimizers/exercises.hpp) against the framework's
// optimizers: for SGD, SGD with momentum and AdamW (all with weight decay), four steps on a float64
// parameter with random gradients; each step's hand-computed Δθ and the Δθ rebuilt from the
// optimizer's StepDescription must equal the change the optimizer made.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "examples/course/04_optimizers/exercises.hpp"
#include "optim/adam.hpp"
#include "optim/sgd.hpp"
#include "tensor/kernels.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

namespace {

double max_abs(const Tensor& t) { return K::amax(K::abs(t)).item(); }

// Keeps every step's description of the (only) parameter.
struct Recorder : optim::StepObserver {
  std::vector<optim::ParamStep> steps;
  void after_step(const optim::Optimizer&, const optim::StepDescription& d) override {
    steps.push_back(d.params.at(0));
  }
};

// Runs four optimizer steps on theta with random N(0, 1) gradients and checks, at each, that
// hand(θ_s, g_s) and the description reproduce θ_{s+1} − θ_s.
//
// Tolerance: the optimizer writes θ_{s+1} = fl(θ_s + u) and we read Δθ = fl(θ_{s+1} − θ_s), which
// is off by at most one rounding of |θ_{s+1}| (2⁻⁵³·|θ|, the subtraction itself is exact here by
// Sterbenz's lemma or is one more rounding of |Δθ|). The hand formulas and the linear form compute
// u from the same terms in a different order: a few roundings of terms no larger than |θ| + |Δθ|.
// 16 · 2⁻⁵³ · (max|θ| + max|Δθ|) covers both with room; a wrong rule misses by orders of magnitude.
void check_steps(optim::Optimizer& opt, const Tensor& theta,
                 const std::function<Tensor(const Tensor&, const Tensor&)>& hand) {
  Recorder recorder;
  opt.add_observer(&recorder);
  Generator gen(9);
  Tensor data_buffer;  // the description's b, rebuilt step by step
  for (int s = 0; s < 4; ++s) {
    CAPTURE(s);
    const Tensor g = rand_normal(theta.shape(), 0, 1, gen, DType::Float64);
    const Tensor before = theta.detach().clone();
    const Tensor by_hand = hand(before, g);
    theta.set_grad(g.clone());
    opt.step();
    const Tensor actual = K::sub(theta.detach(), before);
    const double tol = 16 * std::ldexp(1.0, -53) * (max_abs(before) + max_abs(actual));
    CHECK(max_abs(K::sub(by_hand, actual)) <= tol);
    const Tensor described = course::delta_from_description(recorder.steps.back(), data_buffer, g);
    CHECK(max_abs(K::sub(described, actual)) <= tol);
    CHECK(max_abs(actual) > 1e-3);  // the steps are not trivially zero
  }
  opt.remove_observer(&recorder);
}

Tensor parameter(uint64_t seed) {
  Generator gen(seed);
  return rand_uniform({4, 3}, -1, 1, gen, DType::Float64).set_requires_grad();
}

}  // namespace

TEST_CASE("4.1 SGD with weight decay: hand step and description match optim::SGD") {
  const Tensor theta = parameter(1);
  optim::SGD sgd({{"w", theta}}, optim::SGDOptions(0.1).weight_decay(0.05));
  check_steps(sgd, theta, [](const Tensor& th, const Tensor& g) { return course::sgd_delta(th, g, 0.1, 0.05); });
}

TEST_CASE("4.2 SGD with momentum and weight decay: hand step and description match optim::SGD") {
  const Tensor theta = parameter(2);
  optim::SGD sgd({{"w", theta}}, optim::SGDOptions(0.1).momentum(0.9).weight_decay(0.05));
  course::MomentumState state;
  check_steps(sgd, theta,
              [&](const Tensor& th, const Tensor& g) { return course::momentum_delta(state, th, g, 0.1, 0.9, 0.05); });
  CHECK(state.buffer.defined());
}

TEST_CASE("4.3 AdamW: hand step and description match optim::AdamW") {
  const Tensor theta = parameter(3);
  const course::AdamHyper h{0.05, 0.8, 0.95, 1e-8, 0.1};
  optim::AdamW adamw({{"w", theta}},
                     optim::AdamWOptions(h.lr).betas(h.beta1, h.beta2).eps(h.eps).weight_decay(h.weight_decay));
  course::AdamState state;
  check_steps(adamw, theta, [&](const Tensor& th, const Tensor& g) { return course::adamw_delta(state, th, g, h); });
  CHECK(state.step == 4);
}

TEST_CASE("4.4 delta_from_description on a hand-made description") {
  // b = 0.5·b + 2·g, Δθ = −0.1 ⊙ b + (−0.3) ⊙ g + non_data, with an elementwise buffer_coef.
  optim::ParamStep step;
  step.buffer_decay = 0.5;
  step.grad_scale = 2.0;
  step.buffer_coef.scale = -0.1;
  step.buffer_coef.elementwise = Tensor::from_vector(std::vector<double>{1, 2}, {2}, DType::Float64);
  step.direct_coef.scale = -0.3;
  step.non_data = Tensor::from_vector(std::vector<double>{0.25, -0.5}, {2}, DType::Float64);
  Tensor buffer = Tensor::from_vector(std::vector<double>{4, 8}, {2}, DType::Float64);
  const Tensor g = Tensor::from_vector(std::vector<double>{1, -1}, {2}, DType::Float64);
  const std::vector<double> delta = course::delta_from_description(step, buffer, g).to_vector();
  // b = (0.5·4 + 2, 0.5·8 − 2) = (4, 2); Δθ = (−0.4 − 0.3 + 0.25, −0.4 + 0.3 − 0.5).
  CHECK(buffer.to_vector() == std::vector<double>{4, 2});
  CHECK(delta[0] == doctest::Approx(-0.45).epsilon(1e-15));
  CHECK(delta[1] == doctest::Approx(-0.6).epsilon(1e-15));
}
