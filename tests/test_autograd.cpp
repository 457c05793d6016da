// Tests for autograd/: engine semantics, gradient checks of every op, per-sample gradients.
#include <doctest/doctest.h>

#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;

namespace {
Tensor param(const Shape& s, Generator& g, double lo = -1, double hi = 1) {
  return rand_uniform(s, lo, hi, g, DType::Float64).set_requires_grad();
}
void check(const TensorFunction& f, const std::vector<Tensor>& in) {
  GradcheckResult r = gradcheck(f, in);
  INFO(r.message);
  CHECK(r.ok);
}
}  // namespace

TEST_CASE("backward accumulates into leaves and frees the graph") {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::Float64).set_requires_grad();
  Tensor y = sum(x * x);
  y.backward(Tensor(), true);
  CHECK(x.grad().to_vector() == std::vector<double>{2, 4, 6});
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{4, 8, 12});
  CHECK_THROWS_AS(y.backward(), std::logic_error);
}

TEST_CASE("gradient checks of core ops") {
  Generator g(3);
  Tensor a = param({3, 4}, g), b = param({4}, g), c = param({3, 1}, g, 0.5, 2.0);
  check([](const std::vector<Tensor>& v) { return v[0] + v[1] * v[2]; }, {a, b, c});
  check([](const std::vector<Tensor>& v) { return v[0] / v[2] - v[1]; }, {a, b, c});
  check([](const std::vector<Tensor>& v) { return log_softmax(v[0], 1); }, {a});
  check([](const std::vector<Tensor>& v) { return softmax(v[0], 0); }, {a});
  check([](const std::vector<Tensor>& v) { return tanh(v[0]) * sigmoid(v[0]); }, {a});
  check([](const std::vector<Tensor>& v) { return sum(exp(v[0]), {1}) + mean(v[0], {1}); }, {a});
  check([](const std::vector<Tensor>& v) { return logsumexp(v[0], {0}); }, {a});
  check([](const std::vector<Tensor>& v) { return matmul(v[0], transpose(v[0], 0, 1)); }, {a});
  check([](const std::vector<Tensor>& v) { return pow(v[0], 3.0) + sqrt(v[1]); }, {c, c});
}

TEST_CASE("per-sample gradients match one backward per sample") {
  Generator g(5);
  const int64_t B = 4;
  Tensor w1 = param({6, 3}, g), b1 = param({6}, g), emb = param({7, 3}, g), w2 = param({6, 2}, g);
  Tensor cw = param({2, 1, 2, 2}, g), cb = param({2}, g);
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{1, 2, 2, 0, 6, 6, 3, 5}, {B, 2});
  Tensor img = rand_uniform({B, 1, 4, 4}, -1, 1, g, DType::Float64);
  auto losses = [&](const Tensor& i, const Tensor& im) {
    Tensor h = relu(linear(embedding(emb, i), w1, b1));             // [b, 2, 6]
    Tensor o = matmul(h, w2);                                         // [b, 2, 2]
    Tensor conv = conv2d(im, cw, cb, 1, 1);                           // [b, 2, 5, 5]
    return sum(o, {1, 2}) + sum(tanh(conv), {1, 2, 3});
  };
  std::vector<Tensor> params{w1, b1, emb, w2, cw, cb};
  std::vector<Tensor> ps = per_sample_grad(losses(idx, img), params);
  for (int64_t s = 0; s < B; ++s) {
    Tensor li = losses(kernel::narrow(idx, 0, s, 1), kernel::narrow(img, 0, s, 1));
    std::vector<Tensor> gs = grad({sum(li)}, params);
    for (size_t p = 0; p < params.size(); ++p) {
      Tensor row = kernel::squeeze(kernel::narrow(ps[p], 0, s, 1), 0);
      CHECK(kernel::amax(kernel::abs(kernel::sub(row, gs[p]))).item() < 1e-10);
    }
  }
}

TEST_CASE("per-sample gradients refuse an op without a per-sample rule") {
  Generator g(6);
  Tensor w = param({3, 2}, g);
  Tensor x = rand_uniform({4, 2}, -1, 1, g, DType::Float64);
  Tensor losses = sum(matmul(x, transpose(w, 0, 1)), {1});
  CHECK_THROWS_AS(per_sample_grad(losses, {w}), std::invalid_argument);
}
