// Tests per_sample_grad_dot: per-sample gradients contracted with directions, never materialised,
// must equal the materialised per-sample gradients dotted with the same directions.
#include <doctest/doctest.h>

#include "autograd/ops.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

TEST_CASE("per_sample_grad_dot equals per_sample_grad contracted with the directions") {
  Generator g(11);
  const int64_t B = 5;
  auto param = [&](const Shape& s) { return rand_uniform(s, -1, 1, g, DType::Float64).set_requires_grad(); };
  Tensor w1 = param({6, 3}), b1 = param({6}), emb = param({7, 3}), w2 = param({6, 2}), ln = param({2});
  Tensor cw = param({2, 1, 3, 3}), cb = param({2});
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{1, 2, 2, 0, 6, 6, 3, 5, 4, 4}, {B, 2});
  Tensor img = rand_uniform({B, 1, 5, 5}, -1, 1, g, DType::Float64);
  auto losses = [&] {
    Tensor h = relu(linear(embedding(emb, idx), w1, b1));  // [B, 2, 6]
    Tensor o = matmul(h, w2) * ln;                        // [B, 2, 2]
    Tensor c = conv2d(img, cw, cb, 2, 1);                 // [B, 2, 3, 3]
    return sum(o, {1, 2}) + sum(tanh(c), {1, 2, 3});      // [B]
  };
  std::vector<Tensor> params{w1, b1, emb, w2, ln, cw, cb};
  std::vector<std::vector<Tensor>> dirs;
  for (const Tensor& p : params)
    dirs.push_back({rand_normal(p.shape(), 0, 1, g, DType::Float64), rand_normal(p.shape(), 0, 1, g, DType::Float64)});
  Tensor seeds = rand_uniform({B}, 0.5, 1.5, g, DType::Float64);
  std::vector<Tensor> dots = per_sample_grad_dot(losses(), params, dirs, seeds);
  std::vector<Tensor> full = per_sample_grad(losses(), params, seeds);
  for (size_t p = 0; p < params.size(); ++p) {
    REQUIRE(dots[p].shape() == Shape{B, 2});
    Tensor flat = K::reshape(full[p], {B, -1});
    for (int64_t k = 0; k < 2; ++k) {
      Tensor expect = K::matmul(flat, K::reshape(dirs[p][k], {-1}));  // [B]
      Tensor got = K::reshape(K::narrow(dots[p], 1, k, 1), {B});
      INFO("parameter " << p << " direction " << k);
      CHECK(K::amax(K::abs(K::sub(expect, got))).item() < 1e-12);
    }
  }
}

TEST_CASE("per_sample_grad_dot validates its directions") {
  Tensor w = Tensor::ones({2, 2}, DType::Float64).set_requires_grad();
  Tensor x = Tensor::ones({3, 2}, DType::Float64);
  Tensor l = sum(linear(x, w), {1});
  CHECK_THROWS_AS(per_sample_grad_dot(l, {w}, {{Tensor::ones({3}, DType::Float64)}}), std::invalid_argument);
  CHECK_THROWS_AS(per_sample_grad_dot(l, {w}, {}), std::invalid_argument);
}
