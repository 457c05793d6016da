// Tests for autograd/: a float64 gradient check of every differentiable op (inputs chosen away
// from kinks and ties), the documented tie and kink conventions, engine semantics (accumulation,
// retain_graph, functional grad, no-grad, deep graphs) and per-sample gradients against one
// backward pass per sample.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <pthread.h>

#include <cmath>
#include <functional>
#include <string>

#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

namespace {

Tensor param(const Shape& s, Generator& g, double lo = -1, double hi = 1) {
  return rand_uniform(s, lo, hi, g, DType::Float64).set_requires_grad();
}

// Values with |x| in [0.2, 1.2]: at least 0.2 away from the kinks at 0 of relu, abs, ...
Tensor away_from_zero(const Shape& s, Generator& g) {
  Tensor u = rand_uniform(s, 0.2, 1.2, g, DType::Float64);
  Tensor sign =
      K::sub(K::mul_scalar(K::gt(rand_uniform(s, 0, 1, g, DType::Float64), Tensor::scalar(0.5, DType::Float64)), 2),
             Tensor::scalar(1, DType::Float64));
  return K::mul(u, sign).set_requires_grad();
}

// Distinct values at least 0.1 apart (a shuffled 0.1 * k), so maxima and minima never tie.
Tensor distinct(const Shape& s, Generator& g) {
  const Tensor perm = randperm(numel(s), g).to(DType::Float64);
  return K::reshape(K::add_scalar(K::mul_scalar(perm, 0.1), -0.05 * static_cast<double>(numel(s))), s)
      .clone()
      .set_requires_grad();
}

void check(const std::string& what, const Fn& f, const std::vector<Tensor>& in) {
  const GradcheckResult r = gradcheck(f, in);
  INFO(what, ": ", r.message);
  CHECK(r.ok);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return K::amax(K::abs(K::sub(a, b))).item();
}

Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s, DType::Float64); }

}  // namespace

// ---------------------------------------------------------------- gradient checks
TEST_CASE("gradcheck: arithmetic with broadcasting") {
  Generator g(1);
  Tensor a = param({3, 4}, g), b = param({4}, g), c = param({3, 1}, g, 0.5, 2.0), s = param({}, g, 0.5, 2.0);
  Tensor d = param({2, 1, 4}, g);
  check("add", [](auto& v) { return v[0] + v[1]; }, {a, b});
  check("add 3-D", [](auto& v) { return add(v[0], v[1]); }, {a, d});
  check("sub", [](auto& v) { return v[0] - v[1]; }, {c, b});
  check("mul", [](auto& v) { return v[0] * v[1]; }, {a, c});
  check("mul scalar tensor", [](auto& v) { return v[0] * v[1]; }, {s, d});
  check("div", [](auto& v) { return v[0] / v[1]; }, {a, c});
  check("div by scalar tensor", [](auto& v) { return v[1] / v[0]; }, {s, b});
  check("pow tensor", [](auto& v) { return pow(v[0], v[1]); }, {c, b});
  check("add/sub scalar", [](auto& v) { return (v[0] + 2.0) * (v[0] - 0.5) * (3.0 - v[0]) + (1.0 + v[0]); }, {a});
  check("mul/div scalar", [](auto& v) { return (v[0] * 3.0) * (2.0 * v[0]) / 4.0; }, {a});
  check("neg", [](auto& v) { return -v[0] * neg(v[0] * v[0]); }, {a});
  check("pow scalar", [](auto& v) { return pow(v[0], 3.0) + pow(v[0], 0.5) + pow(v[0], -1.5); }, {c});
}

TEST_CASE("gradcheck: elementwise functions away from their kinks") {
  Generator g(2);
  Tensor a = param({3, 4}, g), p = param({3, 4}, g, 0.3, 2.0), z = away_from_zero({4, 5}, g);
  check("exp", [](auto& v) { return exp(v[0]); }, {a});
  check("log", [](auto& v) { return log(v[0]); }, {p});
  check("sqrt", [](auto& v) { return sqrt(v[0]); }, {p});
  check("tanh", [](auto& v) { return tanh(v[0]); }, {a});
  check("sigmoid", [](auto& v) { return sigmoid(v[0] * 3.0); }, {a});
  check("abs", [](auto& v) { return abs(v[0]); }, {z});
  check("relu", [](auto& v) { return relu(v[0]) * v[0]; }, {z});
  // Thresholds at ±0.1 are never within 0.1 of the values (|z| >= 0.2).
  check("clamp", [](auto& v) { return clamp(v[0], -0.1, 0.1) + clamp(v[0], -5.0, 5.0) * v[0]; }, {z});
  check("clamp cuts", [](auto& v) { return clamp(v[0], 0.0, 0.7) * 2.0; },
        {K::add_scalar(z.detach(), 0.05).clone().set_requires_grad()});
}

TEST_CASE("gradcheck: maximum, minimum, where, masked_fill") {
  Generator g(3);
  Tensor a = distinct({3, 4}, g), b = param({4}, g, -0.03, 0.03);  // |a - b| >= 0.02
  check("maximum", [](auto& v) { return maximum(v[0], v[1]); }, {a, b});
  check("minimum", [](auto& v) { return minimum(v[1], v[0]); }, {a, b});
  const Tensor cond = f64({1, 0, 1}, {3, 1});
  check("where", [&](auto& v) { return where(cond, v[0], v[1]); }, {a, b});
  check("where bool-ish int cond",
        [&](auto& v) {
          return where(Tensor::from_vector(std::vector<int64_t>{0, 1, 1, 0}, {4}), v[1], v[0]);
        },
        {a, b});
  const Tensor mask = f64({0, 1, 1, 0}, {4});
  check("masked_fill", [&](auto& v) { return masked_fill(v[0], mask, -3.0) * v[0]; }, {a});
}

TEST_CASE("gradcheck: reductions") {
  Generator g(4);
  Tensor a = param({3, 4, 2}, g), d = distinct({3, 4, 2}, g);
  for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{{}, {0}, {1}, {-1}, {0, 2}})
    for (bool keep : {false, true}) {
      const std::string what = "dims " + shape_str(dims) + (keep ? " keepdim" : "");
      check("sum " + what, [&](auto& v) { return sum(v[0], dims, keep); }, {a});
      check("mean " + what, [&](auto& v) { return mean(v[0], dims, keep); }, {a});
      check("amax " + what, [&](auto& v) { return amax(v[0], dims, keep); }, {d});
      check("amin " + what, [&](auto& v) { return amin(v[0], dims, keep); }, {d});
      if (!dims.empty()) check("logsumexp " + what, [&](auto& v) { return logsumexp(v[0], dims, keep); }, {a});
    }
  for (int64_t dim : {0, 1, -1}) {
    check("softmax", [&](auto& v) { return softmax(v[0], dim); }, {a});
    check("log_softmax", [&](auto& v) { return log_softmax(v[0], dim); }, {a});
  }
}

TEST_CASE("gradcheck: shapes and indexing") {
  Generator g(5);
  Tensor a = param({3, 4, 2}, g), b = param({3, 1, 2}, g), r = param({4}, g);
  check("reshape", [](auto& v) { return reshape(v[0], {4, -1}) * reshape(v[0], {4, 6}); }, {a});
  check("flatten", [](auto& v) { return flatten(v[0]); }, {a});
  check("flatten 0", [](auto& v) { return flatten(v[0], 0) * 2.0; }, {a});
  check("permute", [](auto& v) { return permute(v[0], {2, 0, 1}) * permute(v[0], {2, 0, 1}); }, {a});
  check("transpose", [](auto& v) { return matmul(transpose(v[0], 1, 2), v[0]); }, {a});
  check("narrow", [](auto& v) { return narrow(v[0], 1, 1, 2) * 3.0; }, {a});
  check("select", [](auto& v) { return select(v[0], 1, -1) * select(v[0], 1, 0); }, {a});
  check("select last dim", [](auto& v) { return select(v[0], 2, 0) * 2.0; }, {a});
  check("expand", [](auto& v) { return expand(v[0], {2, 3, 4, 2}) * 1.5; }, {b});
  check("expand -1", [](auto& v) { return expand(v[0], {3, 5, -1}); }, {b});
  check("squeeze", [](auto& v) { return squeeze(v[0], 1) * squeeze(v[0], -2); }, {b});
  check("unsqueeze", [](auto& v) { return unsqueeze(v[0], 0) + unsqueeze(v[0], -1); }, {r});
  check("contiguous", [](auto& v) { return contiguous(transpose(v[0], 0, 2)) * 2.0; }, {a});
  const Tensor idx = Tensor::from_vector(std::vector<int64_t>{3, 0, 3, 1, 3}, {5});
  check("index_select dim 1", [&](auto& v) { return index_select(v[0], 1, idx); }, {a});
  check("index_select dim 0", [&](auto& v) { return index_select(v[0], 0, idx); }, {r});
  const Tensor gi =
      Tensor::from_vector(std::vector<int64_t>{0, 3, 3, 1, 2, 2, 0, 0, 1, 1, 3, 3, 2, 0, 1, 3, 1, 1}, {3, 3, 2});
  check("gather dim 1", [&](auto& v) { return gather(v[0], 1, gi); }, {a});
  const Tensor gi0 = Tensor::from_vector(std::vector<int64_t>{2, 2, 0, 1}, {1, 4, 1});
  check("gather dim 0", [&](auto& v) { return gather(v[0], 0, gi0); }, {a});
  const Tensor constant = Tensor::ones({3, 2, 2}, DType::Float64);
  check("cat", [&](auto& v) { return cat({v[0], constant, v[1], v[0]}, 1); }, {a, b});
  check("stack", [&](auto& v) { return stack({v[0], v[1], v[0]}, -1); }, {b, b});
  check("stack dim 0", [&](auto& v) { return stack({narrow(v[0], 1, 0, 1), v[1]}, 0); }, {a, b});
}

TEST_CASE("to_dtype: the gradient converts back, integers carry none") {
  Generator g(6);
  Tensor x = param({2, 3}, g);
  const Tensor c = rand_uniform({2, 3}, -1, 1, g, DType::Float32);
  Tensor y = to_dtype(x, DType::Float32);
  CHECK(y.dtype() == DType::Float32);
  CHECK(y.requires_grad());
  sum(y * c).backward();
  CHECK(x.grad().dtype() == DType::Float64);
  CHECK(x.grad().to_vector() == c.to_vector());  // exact: float32 values are float64 values
  CHECK(to_dtype(x, DType::Float64).same(x));
  CHECK_FALSE(to_dtype(x, DType::Int64).requires_grad());
  // A float64 round trip through float32 has the identity as gradient.
  check("to_dtype round trip",
        [](auto& v) { return to_dtype(to_dtype(v[0], DType::Float32), DType::Float64) * 0.0 + v[0]; }, {x});
}

TEST_CASE("gradcheck: matmul, 1-D operands and batch broadcasting") {
  Generator g(7);
  Tensor m = param({3, 4}, g), n = param({4, 2}, g), v = param({4}, g), w = param({3}, g);
  Tensor b1 = param({2, 1, 3, 4}, g), b2 = param({5, 4, 2}, g), b3 = param({2, 3, 4}, g);
  check("2-D @ 2-D", [](auto& x) { return matmul(x[0], x[1]); }, {m, n});
  check("1-D @ 2-D", [](auto& x) { return matmul(x[0], x[1]); }, {v, n});
  check("2-D @ 1-D", [](auto& x) { return matmul(x[0], x[1]); }, {m, v});
  check("1-D @ 1-D", [](auto& x) { return matmul(x[0], x[1]); }, {v, v});
  check("1-D @ 3-D", [](auto& x) { return matmul(x[0], x[1]); }, {w, b3});
  check("3-D @ 1-D", [](auto& x) { return matmul(x[0], x[1]); }, {b3, v});
  check("batch broadcast", [](auto& x) { return matmul(x[0], x[1]); }, {b1, b2});
  check("3-D @ 2-D", [](auto& x) { return matmul(x[0], x[1]); }, {b3, n});
  check("2-D @ 3-D", [](auto& x) { return matmul(x[0], x[1]); }, {m, b2});
  check("transposed operand", [](auto& x) { return matmul(transpose(x[1], 0, 1), transpose(x[0], 0, 1)); }, {m, n});
}

TEST_CASE("gradcheck: layer primitives") {
  Generator g(8);
  Tensor x = param({2, 3, 4}, g), w = param({5, 4}, g), b = param({5}, g);
  check("linear", [](auto& v) { return linear(v[0], v[1], v[2]); }, {x, w, b});
  check("linear no bias", [](auto& v) { return linear(v[0], v[1]); }, {x, w});
  check("linear 1-D input", [](auto& v) { return linear(select(v[0], 0, 1), v[1], v[2]); }, {x, w, b});
  Tensor emb = param({6, 3}, g);
  const Tensor idx = Tensor::from_vector(std::vector<int64_t>{5, 0, 5, 2, 2, 5}, {2, 3});
  check("embedding", [&](auto& v) { return embedding(v[0], idx); }, {emb});
  Tensor img = param({2, 3, 7, 6}, g), cw = param({4, 3, 3, 3}, g), cb = param({4}, g);
  check("conv2d stride 2 padding 1", [](auto& v) { return conv2d(v[0], v[1], v[2], 2, 1); }, {img, cw, cb});
  check("conv2d stride 1 no bias", [](auto& v) { return conv2d(v[0], v[1], Tensor(), 1, 0); }, {img, cw});
  check("conv2d 3x3 padding 1 (same size)", [](auto& v) { return conv2d(v[0], v[1], Tensor(), 1, 1); }, {img, cw});
  Tensor pool_in = distinct({2, 2, 7, 6}, g);
  check("max_pool2d", [](auto& v) { return max_pool2d(v[0], 2); }, {pool_in});
  check("max_pool2d overlapping", [](auto& v) { return max_pool2d(v[0], 3, 2); }, {pool_in});
  check("adaptive_max_pool2d", [](auto& v) { return adaptive_max_pool2d(v[0], 3, 4); }, {pool_in});
  check("adaptive_max_pool2d upsampling", [](auto& v) { return adaptive_max_pool2d(v[0], 9, 8); }, {pool_in});
}

// ---------------------------------------------------------------- ties and kinks, as documented
TEST_CASE("ties and kinks follow the documented conventions") {
  auto grad_of = [](const Tensor& x, const std::function<Tensor(const Tensor&)>& f) {
    return grad({sum(f(x))}, {x})[0].to_vector();
  };
  Tensor x = f64({1, 3, 3, 2, 0, -1}, {2, 3}).set_requires_grad();
  // amax/amin: tied extremes share the gradient equally.
  CHECK(grad_of(x, [](const Tensor& t) { return amax(t); }) == std::vector<double>{0, 0.5, 0.5, 0, 0, 0});
  CHECK(grad_of(x, [](const Tensor& t) { return amax(t, {1}); }) == std::vector<double>{0, 0.5, 0.5, 1, 0, 0});
  CHECK(grad_of(x, [](const Tensor& t) { return amin(t, {0}, true); }) == std::vector<double>{1, 0, 0, 0, 1, 1});
  Tensor t = f64({2, 2, 2, 2}, {4}).set_requires_grad();
  CHECK(grad_of(t, [](const Tensor& u) { return amin(u); }) == std::vector<double>{0.25, 0.25, 0.25, 0.25});
  // maximum/minimum: a tie sends the gradient to the first operand.
  Tensor a = f64({1, 2, 3}, {3}).set_requires_grad(), b = f64({2, 2, 2}, {3}).set_requires_grad();
  std::vector<Tensor> gm = grad({sum(maximum(a, b))}, {a, b});
  CHECK(gm[0].to_vector() == std::vector<double>{0, 1, 1});
  CHECK(gm[1].to_vector() == std::vector<double>{1, 0, 0});
  gm = grad({sum(minimum(a, b))}, {a, b});
  CHECK(gm[0].to_vector() == std::vector<double>{1, 1, 0});
  CHECK(gm[1].to_vector() == std::vector<double>{0, 0, 1});
  // relu and abs: gradient 0 at 0; clamp: 1 only strictly inside.
  Tensor k = f64({-1, 0, 1}, {3}).set_requires_grad();
  CHECK(grad_of(k, [](const Tensor& u) { return relu(u); }) == std::vector<double>{0, 0, 1});
  CHECK(grad_of(k, [](const Tensor& u) { return abs(u); }) == std::vector<double>{-1, 0, 1});
  CHECK(grad_of(k, [](const Tensor& u) { return clamp(u, -1, 1); }) == std::vector<double>{0, 1, 0});
  // max pooling: a tie sends the gradient to the first maximum of the window.
  Tensor p = Tensor::ones({1, 1, 2, 2}, DType::Float64).set_requires_grad();
  CHECK(grad_of(p, [](const Tensor& u) { return max_pool2d(u, 2); }) == std::vector<double>{1, 0, 0, 0});
}

// ---------------------------------------------------------------- engine semantics
TEST_CASE("backward accumulates into leaves; retain_graph; a second backward throws") {
  Tensor x = f64({1, 2, 3}, {3}).set_requires_grad();
  Tensor y = sum(x * x);
  y.backward(Tensor(), true);
  CHECK(x.grad().to_vector() == std::vector<double>{2, 4, 6});
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{4, 8, 12});
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("a second time"), std::logic_error);
  x.set_grad(Tensor());
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("a tensor used twice accumulates; shared subgraphs run once") {
  Tensor x = f64({1, -2}, {2}).set_requires_grad();
  sum(x * x + x).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{3, -3});
  Tensor w = f64({0.5, 2}, {2}).set_requires_grad();
  Tensor h = exp(w);  // used by both branches of a diamond
  Tensor out = sum(h * 2.0 + h * h);
  out.backward();
  for (int64_t i = 0; i < 2; ++i) {
    const double e = std::exp(w.at({i}));
    CHECK(w.grad().at({i}) == doctest::Approx(2 * e + 2 * e * e).epsilon(1e-14));
  }
}

TEST_CASE("seeds: required for non-scalar outputs, shape-checked, never aliased into .grad") {
  Tensor x = f64({1, 2}, {2}).set_requires_grad();
  Tensor y = x * 3.0;
  CHECK_THROWS_WITH_AS(y.backward(Tensor(), true), doctest::Contains("output of shape [2] is not a single value"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(y.backward(f64({1}, {1}), true),
                       doctest::Contains("seed [1] float64 does not match output [2] float64"), std::invalid_argument);
  Tensor seed = f64({1, 10}, {2});
  Tensor z = x + 0.0;  // its backward hands the seed itself to x
  z.backward(seed);
  seed.set({0}, 100);
  CHECK(x.grad().to_vector() == std::vector<double>{1, 10});
  CHECK_THROWS_WITH_AS(backward({Tensor::ones({1})}), doctest::Contains("output 0 does not require grad"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(backward({y}, {Tensor(), Tensor()}), doctest::Contains("2 seeds for 1 outputs"),
                       std::invalid_argument);
}

TEST_CASE("functional grad: non-leaf inputs, allow_unused, no .grad touched") {
  Tensor x = f64({1, 2, 3}, {3}).set_requires_grad();
  Tensor unused = f64({1}, {1}).set_requires_grad();
  Tensor y = x * x;             // non-leaf
  Tensor z = sum(y * 3.0 + x);  // dz/dy = 3, dz/dx = 6x + 1
  std::vector<Tensor> gs = grad({z}, {y, x, unused}, {}, true);
  CHECK(gs[0].to_vector() == std::vector<double>{3, 3, 3});
  CHECK(gs[1].to_vector() == std::vector<double>{7, 13, 19});
  CHECK(gs[2].to_vector() == std::vector<double>{0});
  CHECK_FALSE(x.grad().defined());
  CHECK_THROWS_WITH_AS(grad({z}, {x, unused}, {}, true, false), doctest::Contains("input 1 (shape [1]) is not used"),
                       std::invalid_argument);
  // allow_unused=false without retain_graph: every input is used, so this must not throw.
  const std::vector<Tensor> once = grad({z}, {x}, {}, false, false);
  CHECK(once[0].to_vector() == std::vector<double>{7, 13, 19});
  CHECK_THROWS_WITH_AS(grad({sum(x)}, {Tensor::ones({2})}),
                       doctest::Contains("grad: input 0 (shape [2]) does not require grad"), std::invalid_argument);
  // Several outputs with seeds: d(2*sum(x) + x.x)/dx.
  const std::vector<Tensor> two = grad({sum(x), x * x}, {x}, {f64({2}, {}), f64({1, 1, 1}, {3})});
  CHECK(two[0].to_vector() == std::vector<double>{4, 6, 8});
}

TEST_CASE("NoGradGuard and detach stop recording") {
  Tensor x = f64({1, 2}, {2}).set_requires_grad();
  CHECK(grad_enabled());
  {
    NoGradGuard outer;
    CHECK_FALSE(grad_enabled());
    {
      NoGradGuard inner;
      CHECK_FALSE((x * 2.0).requires_grad());
    }
    CHECK_FALSE(grad_enabled());  // the inner guard restores the outer state
    CHECK_FALSE(exp(x).requires_grad());
  }
  CHECK(grad_enabled());
  CHECK((x * 2.0).requires_grad());
  Tensor d = (x * 2.0).detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  sum(x * d).backward();  // d is a constant: d(x . 2x_detached)/dx = 2x
  CHECK(x.grad().to_vector() == std::vector<double>{2, 4});
  CHECK_FALSE((d * d).requires_grad());
}

TEST_CASE("requires_grad is refused for integer tensors and non-leaves") {
  Tensor i = Tensor::arange(3, DType::Int64);
  CHECK_THROWS_WITH_AS(i.set_requires_grad(),
                       doctest::Contains("set_requires_grad: got dtype int64, expected float32 or float64"),
                       std::invalid_argument);
  CHECK_FALSE(i.requires_grad());
  Tensor x = f64({1}, {1}).set_requires_grad();
  Tensor y = x * 2.0;
  CHECK_THROWS_WITH_AS(y.set_requires_grad(), doctest::Contains("only leaf tensors"), std::logic_error);
}

namespace {
// Runs f on a thread with a deliberately small stack (256 KiB): recursion over a long graph
// would overflow it.
void run_on_small_stack(const std::function<void()>& f) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t thread;
  auto body = [](void* arg) -> void* {
    (*static_cast<const std::function<void()>*>(arg))();
    return nullptr;
  };
  REQUIRE(pthread_create(&thread, &attr, body, const_cast<std::function<void()>*>(&f)) == 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}
}  // namespace

TEST_CASE("a chain of 100000 ops: backward and destruction without recursion") {
  bool ok = false;
  double grad_value = 0;
  std::string error;
  run_on_small_stack([&] {
    try {
      Tensor x = f64({1}, {1}).set_requires_grad();
      {
        Tensor y = x;
        for (int i = 0; i < 100000; ++i) y = y * 1.0001;
        sum(y).backward(Tensor(), true);  // the graph stays linked: its destruction is tested too
        grad_value = x.grad().item();
      }  // the whole chain is destroyed here
      Tensor z = x;
      for (int i = 0; i < 100000; ++i) z = tanh(z) + 0.0;  // never run backward: destroyed as built
      z = Tensor();
      ok = true;
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  INFO(error);
  CHECK(ok);
  CHECK(grad_value == doctest::Approx(std::pow(1.0001, 100000)).epsilon(1e-9));
}

// ---------------------------------------------------------------- per-sample gradients
namespace {
// per_sample_grad of losses(inputs...) against one backward pass per sample, against the same
// computation in two chunks of the batch, and grouped (rows_per_sample 2 and 3) against the sums
// of the per-row results. Every tensor in `batch_inputs` indexes samples along dim 0.
void check_per_sample(const std::string& what, const std::function<Tensor(const std::vector<Tensor>&)>& losses,
                      const std::vector<Tensor>& batch_inputs, const std::vector<Tensor>& params) {
  INFO(what);
  const int64_t B = batch_inputs[0].size(0);
  const Tensor seeds = f64(std::vector<double>{1.0, -0.5, 2.0, 0.25, 3.0, -1.5}, {6});
  const Tensor seed = K::narrow(seeds, 0, 0, B).contiguous();
  const std::vector<Tensor> ps = per_sample_grad(losses(batch_inputs), params, seed);
  REQUIRE(ps.size() == params.size());
  auto rows = [&](int64_t start, int64_t len) {
    std::vector<Tensor> in;
    for (const Tensor& t : batch_inputs) in.push_back(K::narrow(t, 0, start, len).contiguous());
    return in;
  };
  for (int64_t s = 0; s < B; ++s) {
    const Tensor li = losses(rows(s, 1));
    REQUIRE(li.shape() == Shape{1});
    const std::vector<Tensor> gs = grad({sum(li)}, params);
    for (size_t p = 0; p < params.size(); ++p) {
      REQUIRE(ps[p].shape()[0] == B);
      const Tensor row = K::squeeze(K::narrow(ps[p], 0, s, 1), 0);
      INFO("sample ", s, " parameter ", p, " of shape ", shape_str(params[p].shape()));
      CHECK(max_abs_diff(row, K::mul_scalar(gs[p], seed.at({s}))) < 1e-10);
    }
  }
  const int64_t half = B / 2;
  const std::vector<Tensor> first =
      per_sample_grad(losses(rows(0, half)), params, K::narrow(seed, 0, 0, half).contiguous());
  const std::vector<Tensor> second =
      per_sample_grad(losses(rows(half, B - half)), params, K::narrow(seed, 0, half, B - half).contiguous());
  for (size_t p = 0; p < params.size(); ++p) CHECK(max_abs_diff(K::cat({first[p], second[p]}, 0), ps[p]) < 1e-12);
  // float64 sums of at most 3 terms of size O(1), in another order: rounding ~1e-16, bound 1e-12.
  for (int64_t n : {2, 3}) {
    const std::vector<Tensor> grouped = per_sample_grad(losses(batch_inputs), params, seed, false, n);
    for (size_t p = 0; p < params.size(); ++p) {
      INFO("rows per sample ", n, " parameter ", p);
      Shape split = ps[p].shape();
      split[0] = n;
      split.insert(split.begin(), B / n);
      CHECK(max_abs_diff(grouped[p], K::sum(K::reshape(ps[p], split), {1})) < 1e-12);
    }
  }
}
}  // namespace

TEST_CASE("per-sample gradients of every per-sample rule match one backward per sample") {
  Generator g(9);
  const int64_t B = 6;  // groups of 2 and of 3 rows
  Tensor w = param({4, 3}, g), b = param({4}, g), wm = param({3, 2}, g), emb = param({7, 3}, g);
  Tensor cw = param({2, 3, 3, 3}, g), cb = param({2}, g), pd = param({3}, g), p1d = param({1, 3}, g);
  Tensor pdiv = param({1, 3}, g, 0.5, 2.0);
  const Tensor x2 = rand_uniform({B, 3}, -1, 1, g, DType::Float64);
  const Tensor x3 = rand_uniform({B, 2, 3}, -1, 1, g, DType::Float64);
  const Tensor img = rand_uniform({B, 3, 6, 5}, -1, 1, g, DType::Float64);
  const Tensor idx = Tensor::from_vector(std::vector<int64_t>{1, 2, 2, 0, 6, 6, 3, 5, 1, 1, 4, 2}, {B, 2});
  auto per_row = [](const Tensor& t) {  // [B, ...] -> [B]: a non-linear per-sample loss
    return sum(tanh(t), [&] {
      std::vector<int64_t> dims;
      for (int64_t d = 1; d < t.dim(); ++d) dims.push_back(d);
      return dims;
    }());
  };
  check_per_sample("linear 2-D", [&](auto& v) { return per_row(linear(v[0], w, b)); }, {x2}, {w, b});
  check_per_sample("linear 3-D", [&](auto& v) { return per_row(linear(v[0], w, b)); }, {x3}, {w, b});
  check_per_sample("linear weight only", [&](auto& v) { return per_row(linear(v[0], w)); }, {x3}, {w});
  check_per_sample("matmul 2-D", [&](auto& v) { return per_row(matmul(v[0], wm)); }, {x2}, {wm});
  check_per_sample("matmul 3-D", [&](auto& v) { return per_row(matmul(v[0], wm)); }, {x3}, {wm});
  check_per_sample("embedding", [&](auto& v) { return per_row(embedding(emb, v[0]) * 1.5); }, {idx}, {emb});
  check_per_sample("conv2d stride 2 padding 1", [&](auto& v) { return per_row(conv2d(v[0], cw, cb, 2, 1)); }, {img},
                   {cw, cb});
  check_per_sample("add [D]", [&](auto& v) { return per_row(v[0] + pd); }, {x2}, {pd});
  check_per_sample("add [1, D]", [&](auto& v) { return per_row(add(v[0], p1d)); }, {x3}, {p1d});
  check_per_sample("mul [D]", [&](auto& v) { return per_row(v[0] * pd); }, {x3}, {pd});
  check_per_sample("mul [1, D]", [&](auto& v) { return per_row(mul(p1d, v[0])); }, {x2}, {p1d});
  check_per_sample("sub and div", [&](auto& v) { return per_row((v[0] - pd) / pdiv); }, {x2}, {pd, pdiv});
  // Everything at once, a parameter used by two operations, samples combined from two inputs.
  check_per_sample("model",
                   [&](auto& v) {
                     Tensor h = relu(linear(embedding(emb, v[0]), w, b));  // [B, 2, 4]
                     Tensor o = matmul(narrow(h, 2, 0, 3) * pd, wm);       // [B, 2, 2]
                     Tensor c = conv2d(v[1], cw, cb, 2, 1);                // [B, 2, 3, 3]
                     return per_row(o) + per_row(c) + per_row(linear(v[2], w));
                   },
                   {idx, img, x2}, {w, b, emb, wm, cw, cb, pd});
}

TEST_CASE("per-sample gradients refuse what they cannot do") {
  Generator g(10);
  Tensor w = param({3, 2}, g);
  Tensor x = rand_uniform({4, 2}, -1, 1, g, DType::Float64);
  Tensor losses = sum(matmul(x, transpose(w, 0, 1)), {1});  // transpose has no per-sample rule
  CHECK_THROWS_WITH_AS(per_sample_grad(losses, {w}), doctest::Contains("'transpose' uses a parameter of shape [3, 2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(per_sample_grad(sum(matmul(x, transpose(w, 0, 1))), {w}),
                       doctest::Contains("losses must be [B], got []"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(per_sample_grad(losses, {w * 2.0}), doctest::Contains("every parameter must be a leaf"),
                       std::invalid_argument);
  // A parameter combined with a tensor whose dim 0 is not the batch: [2, 4] * q[4], summed to [4].
  Tensor q = param({4}, g);
  CHECK_THROWS_WITH_AS(per_sample_grad(sum(transpose(x, 0, 1) * q, {0}), {q}),
                       doctest::Contains("shape [2, 4] whose dim 0 is not the batch of 4 rows"), std::invalid_argument);
  for (int64_t n : {0, 3})
    CHECK_THROWS_WITH_AS(
        per_sample_grad(losses, {w}, Tensor(), false, n),
        doctest::Contains(fmt::format("{} rows per sample do not divide the batch of 4 rows", n).c_str()),
        std::invalid_argument);
}
