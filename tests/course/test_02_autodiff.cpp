// Lesson 2's exercises (examples/course/02_autodiff/exercises.hpp) against independent answers:
// hand gradients and Value's exp against float64 central differences; softplus against the
// library's log(1 + exp(x)) and gradcheck; feature_gain against the library's broadcasting mul
// (values, gradients, per-sample gradients, contractions, path points) and gradcheck; and
// docs/autograd.md shows the solutions' code word for word.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "autograd/path_point.hpp"
#include "examples/course/02_autodiff/exercises.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/random.hpp"
#include "tests/doc_sync.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

namespace {

double max_diff(const Tensor& a, const Tensor& b) { return K::amax(K::abs(K::sub(a, b))).item(); }

// Central difference of a scalar function. With step h its error is ~ h²·|f'''|/6 (truncation)
// plus ~ 2^-53·|f|/h (rounding): for the smooth functions below, h = 1e-5 keeps both under 1e-9.
template <class F>
double central(F f, double x, double h = 1e-5) {
  return (f(x + h) - f(x - h)) / (2 * h);
}

constexpr double kFdTol = 1e-8;

}  // namespace

TEST_CASE("docs/autograd.md's worked example is solutions.cpp's code, unchanged") {
  using doc_sync::between, doc_sync::source_file;
  const std::string doc =
      between(source_file("docs/autograd.md"), "<!-- examples/course/02_autodiff/solutions.cpp -->\n```cpp\n", "```\n");
  const std::string code = between(source_file("examples/course/02_autodiff/solutions.cpp"),
                                   "// docs/autograd.md begin\n", "// docs/autograd.md end\n");
  CHECK(doc == code);
}

TEST_CASE("2.1 the neuron's gradients by hand match central differences and Value.backward()") {
  const double x1 = 0.7, x2 = -1.3, w1 = 0.4, w2 = 0.9, b = 0.2;
  const auto o = [&](double a1, double a2, double bb) { return std::tanh(a1 * x1 + a2 * x2 + bb); };
  const course::NeuronGrads g = course::neuron_grads_by_hand(x1, x2, w1, w2, b);
  CHECK(std::abs(g.w1 - central([&](double v) { return o(v, w2, b); }, w1)) < kFdTol);
  CHECK(std::abs(g.w2 - central([&](double v) { return o(w1, v, b); }, w2)) < kFdTol);
  CHECK(std::abs(g.b - central([&](double v) { return o(w1, w2, v); }, b)) < kFdTol);

  const course::Value vw1(w1), vw2(w2), vb(b);
  const course::Value out = tanh(vw1 * course::Value(x1) + vw2 * course::Value(x2) + vb);
  out.backward();
  // The same products in the same order: equal up to one rounding of each.
  CHECK(std::abs(vw1.grad() - g.w1) < 1e-15);
  CHECK(std::abs(vw2.grad() - g.w2) < 1e-15);
  CHECK(std::abs(vb.grad() - g.b) < 1e-15);
}

TEST_CASE("2.2 Value's exp: value, gradient through a reused node, against central differences") {
  // f(a) = e^a · e^a + a: the node e^a is used twice, so backward must accumulate, not overwrite.
  const auto f_value = [](double a) {
    const course::Value va(a), e = exp(va);
    return std::make_pair(e * e + va, va);
  };
  const double a = 0.3;
  auto [f, va] = f_value(a);
  f.backward();
  CHECK(f.data() == doctest::Approx(std::exp(2 * a) + a).epsilon(1e-15));
  CHECK(std::abs(va.grad() - central([&](double x) { return std::exp(2 * x) + x; }, a)) < kFdTol);
}

TEST_CASE("2.3 softplus: values, stability, gradient") {
  Generator gen(5);
  const Tensor x = rand_uniform({3, 7}, -5, 5, gen, DType::Float64);
  // On [-5, 5] log(1 + e^x) loses nothing in float64 (1 + e^x >= 1 + e^-5): a few ulps of softplus.
  CHECK(max_diff(course::softplus(x), log(add(exp(x), 1.0))) < 1e-14);
  CHECK(course::softplus(x.to(DType::Float32)).dtype() == DType::Float32);

  const Tensor extreme = Tensor::from_vector(std::vector<double>{-800, -40, 0, 40, 800}, {5}, DType::Float64);
  const std::vector<double> y = course::softplus(extreme).to_vector();
  CHECK(y[0] == 0.0);                                              // e^-800 underflows to 0
  CHECK(y[1] == doctest::Approx(std::exp(-40.0)).epsilon(1e-15));  // log(1 + e^-40) would be 0
  CHECK(y[2] == doctest::Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(y[3] == 40.0);   // 40 + 4e-18 rounds to 40
  CHECK(y[4] == 800.0);  // no overflow

  const Tensor xg = rand_uniform({4, 6}, -4, 4, gen, DType::Float64).set_requires_grad();
  const GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return course::softplus(in[0]); }, {xg});
  CHECK_MESSAGE(r.ok, r.message);
  course::softplus(xg).backward(Tensor::ones({4, 6}, DType::Float64));
  CHECK(max_diff(xg.grad(), K::sigmoid(xg.detach())) == 0.0);  // the rule is exactly sigmoid
  CHECK(course::softplus(xg).grad_fn()->name == "softplus");
}

TEST_CASE("2.4 feature_gain: forward, backward and gradcheck against the library's mul") {
  Generator gen(6);
  const Tensor x = rand_uniform({5, 3}, -2, 2, gen, DType::Float64).set_requires_grad();
  const Tensor gain = rand_uniform({3}, 0.5, 2, gen, DType::Float64).set_requires_grad();
  const Tensor seed = rand_uniform({5, 3}, -1, 1, gen, DType::Float64);
  // The same products as mul's (x[b,d]·gain[d], then g·gain and Σ_b g·x): equal to rounding of
  // sums over B = 5 terms of size <= 4.
  const std::vector<Tensor> ours = grad({course::feature_gain(x, gain)}, {x, gain}, {seed});
  const std::vector<Tensor> lib = grad({mul(x, gain)}, {x, gain}, {seed});
  CHECK(max_diff(course::feature_gain(x, gain), mul(x, gain)) == 0.0);
  CHECK(max_diff(ours[0], lib[0]) < 1e-15);
  CHECK(max_diff(ours[1], lib[1]) < 1e-14);
  const GradcheckResult r =
      gradcheck([](const std::vector<Tensor>& in) { return course::feature_gain(in[0], in[1]); }, {x, gain});
  CHECK_MESSAGE(r.ok, r.message);
  CHECK_THROWS_AS(course::feature_gain(x, Tensor::ones({4}, DType::Float64)), std::invalid_argument);
}

TEST_CASE("2.4 feature_gain: per-sample gradients, contractions and path points") {
  Generator gen(7);
  const int64_t B = 4, D = 3;
  const Tensor x = rand_uniform({B, D}, -2, 2, gen, DType::Float64);
  const Tensor gain = rand_uniform({D}, 0.5, 2, gen, DType::Float64).set_requires_grad();
  const Tensor w = rand_uniform({D}, -1, 1, gen, DType::Float64);
  // Per-sample losses l_b = Σ_d tanh(x[b,d]·gain[d])·w[d]: gain is the only parameter.
  const auto losses = [&](const Tensor& y) { return sum(mul(tanh(y), w), {1}); };

  const Tensor ps = per_sample_grad(losses(course::feature_gain(x, gain)), {gain})[0];  // [B, D]
  REQUIRE(ps.shape() == Shape{B, D});
  for (int64_t b = 0; b < B; ++b) {  // one ordinary backward per sample, through the library's mul
    const Tensor xb = K::narrow(x, 0, b, 1);
    const Tensor gb = grad({sum(losses(mul(xb, gain)))}, {gain})[0];
    CHECK(max_diff(K::squeeze(K::narrow(ps, 0, b, 1), 0), gb) < 1e-15);
  }

  const std::vector<Tensor> dirs = {rand_uniform({D}, -1, 1, gen, DType::Float64),
                                    rand_uniform({D}, -1, 1, gen, DType::Float64)};
  const Tensor dots = per_sample_grad_dot(losses(course::feature_gain(x, gain)), {gain}, {dirs})[0];  // [B, 2]
  REQUIRE(dots.shape() == Shape{B, 2});
  for (int64_t k = 0; k < 2; ++k)  // Σ_d over D = 3 terms: a few ulps
    CHECK(max_diff(K::squeeze(K::narrow(dots, 1, k, 1), 1), K::matmul(ps, dirs[k])) < 1e-15);

  // Under a path point row b uses gain + t[b]·Δgain, as the library's mul does.
  const Tensor delta = rand_uniform({D}, -1, 1, gen, DType::Float64);
  const Tensor t = Tensor::from_vector(std::vector<double>{0.0, 0.25, 0.5, 1.0}, {B}, DType::Float64);
  PathPointGuard point({gain}, {delta}, t);
  CHECK(max_diff(course::feature_gain(x, gain), mul(x, gain)) == 0.0);
  const Tensor moved = K::add(gain.detach(), K::mul(K::reshape(t, {B, 1}), delta));  // [B, D]
  CHECK(max_diff(course::feature_gain(x, gain), K::mul(x, moved)) == 0.0);
  const Tensor ps_path = per_sample_grad(losses(course::feature_gain(x, gain)), {gain})[0];
  const Tensor ps_lib = per_sample_grad(losses(mul(x, gain)), {gain})[0];
  CHECK(max_diff(ps_path, ps_lib) < 1e-15);
}
