// Tests per_sample_grad_dot: per-sample gradients contracted with directions, never materialised,
// must equal the materialised per-sample gradients dotted with the same directions.
#include <doctest/doctest.h>

#include "autograd/ops.hpp"
#include "autograd/path_point.hpp"
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
    Tensor o = matmul(h, w2) * ln;                         // [B, 2, 2]
    Tensor c = conv2d(img, cw, cb, 2, 1);                  // [B, 2, 3, 3]
    return sum(o, {1, 2}) + sum(tanh(c), {1, 2, 3});       // [B]
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

TEST_CASE("per_sample_grad_dot of a linear weight along directions that are zero outside a block") {
  // The linear rule multiplies only the block of a direction that is not zero (one attention
  // head's rows or columns); the dots must equal the dense contraction of the full per-sample
  // gradients: float64, sums of 4·5 products of O(1) terms, so 1e-12 leaves ample room.
  Generator g(5);
  const int64_t B = 3;
  Tensor w = rand_uniform({6, 5}, -1, 1, g, DType::Float64).set_requires_grad();
  Tensor x = rand_uniform({B, 4, 5}, -1, 1, g, DType::Float64);
  auto losses = [&] { return sum(tanh(linear(x, w)), {1, 2}); };
  auto on_block = [&](int64_t r0, int64_t rn, int64_t c0, int64_t cn) {
    Tensor d = Tensor::zeros({6, 5}, DType::Float64);
    K::narrow(K::narrow(d, 0, r0, rn), 1, c0, cn).copy_(rand_normal({rn, cn}, 0, 1, g, DType::Float64));
    return d;
  };
  const std::vector<Tensor> dirs{on_block(2, 2, 0, 5), on_block(0, 6, 1, 3), on_block(4, 1, 3, 1),
                                 Tensor::zeros({6, 5}, DType::Float64), on_block(0, 6, 0, 5)};
  const Tensor dots = per_sample_grad_dot(losses(), {w}, {dirs})[0];  // [B, 5]
  const Tensor full = K::reshape(per_sample_grad(losses(), {w})[0], {B, -1});
  for (size_t k = 0; k < dirs.size(); ++k) {
    const Tensor expect = K::matmul(full, K::reshape(dirs[k], {-1}));
    INFO("direction " << k);
    CHECK(K::amax(K::abs(K::sub(expect, K::reshape(K::narrow(dots, 1, static_cast<int64_t>(k), 1), {B})))).item() <
          1e-12);
  }
  CHECK(K::amax(K::abs(K::narrow(dots, 1, 3, 1))).item() == 0.0);
}

TEST_CASE("under a path point the direction ΔW itself reuses the forward's product") {
  // linear's contraction of the path point's own ΔW (the same tensor) takes x ΔWᵀ from the shift;
  // a copy of ΔW (another tensor) takes its own product: the same dots, float64, 1e-12.
  Generator g(6);
  const int64_t B = 4;
  Tensor w = rand_uniform({3, 5}, -1, 1, g, DType::Float64).set_requires_grad();
  const Tensor dw = rand_normal({3, 5}, 0, 1, g, DType::Float64), x = rand_uniform({B, 2, 5}, -1, 1, g, DType::Float64);
  PathPointGuard at({w}, {dw}, rand_uniform({B}, 0, 1, g, DType::Float64));
  auto losses = [&] { return sum(tanh(linear(x, w)), {1, 2}); };
  const Tensor dots = per_sample_grad_dot(losses(), {w}, {{dw, dw.clone()}})[0];  // [B, 2]
  CHECK(K::amax(K::abs(K::sub(K::narrow(dots, 1, 0, 1), K::narrow(dots, 1, 1, 1)))).item() < 1e-12);
  CHECK(K::amax(K::abs(dots)).item() > 1e-3);  // not trivially zero
}

TEST_CASE("per_sample_grad_dot validates its directions") {
  Tensor w = Tensor::ones({2, 2}, DType::Float64).set_requires_grad();
  Tensor x = Tensor::ones({3, 2}, DType::Float64);
  Tensor l = sum(linear(x, w), {1});
  CHECK_THROWS_AS(per_sample_grad_dot(l, {w}, {{Tensor::ones({3}, DType::Float64)}}), std::invalid_argument);
  CHECK_THROWS_AS(per_sample_grad_dot(l, {w}, {}), std::invalid_argument);
}

TEST_CASE("a path point evaluates every row at its own point, forward and backward") {
  Generator g(21);
  const int64_t B = 4;
  auto param = [&](const Shape& s) { return rand_uniform(s, -1, 1, g, DType::Float64).set_requires_grad(); };
  Tensor w1 = param({6, 3}), b1 = param({6}), emb = param({7, 3}), w2 = param({6, 2}), ln = param({2}), sh = param({2});
  Tensor cw = param({2, 1, 3, 3}), cb = param({2});
  Tensor den = rand_uniform({2}, 2, 3, g, DType::Float64).set_requires_grad();
  std::vector<Tensor> params{w1, b1, emb, w2, ln, sh, cw, cb, den};
  std::vector<Tensor> deltas;
  for (const Tensor& p : params) deltas.push_back(rand_normal(p.shape(), 0, 0.3, g, DType::Float64));
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{1, 2, 2, 0, 6, 6, 3, 5}, {B, 2});
  Tensor img = rand_uniform({B, 1, 5, 5}, -1, 1, g, DType::Float64);
  Tensor x = rand_uniform({B, 2, 3}, -1, 1, g, DType::Float64).set_requires_grad();
  auto losses = [&](const Tensor& i, const Tensor& im, const Tensor& xx) {
    Tensor h = tanh(linear(embedding(emb, i) + xx, w1, b1));  // [b, 2, 6]
    Tensor o = (matmul(h, w2) * ln - sh) / den;               // [b, 2, 2]
    Tensor c = conv2d(im, cw, cb, 2, 1);                      // [b, 2, 3, 3]
    return sum(o, {1, 2}) + sum(tanh(c), {1, 2, 3});          // [b]
  };
  const Tensor t = Tensor::from_vector(std::vector<double>{0.0, 0.3, 1.0, -0.7}, {B}, DType::Float64);
  std::vector<Tensor> ps, gx;
  Tensor batched;
  {
    PathPointGuard guard(params, deltas, t);
    batched = losses(idx, img, x);
    ps = per_sample_grad(batched, params, Tensor(), true);
    gx = grad({batched}, {x}, {Tensor::ones({B}, DType::Float64)});
  }
  const std::vector<Tensor> saved = [&] {
    std::vector<Tensor> v;
    for (auto& p : params) v.push_back(p.clone());
    return v;
  }();
  for (int64_t r = 0; r < B; ++r) {
    for (size_t p = 0; p < params.size(); ++p) params[p].copy_(K::add(saved[p], K::mul_scalar(deltas[p], t.at({r}))));
    Tensor xr = K::narrow(x, 0, r, 1).contiguous().set_requires_grad();
    Tensor l = losses(K::narrow(idx, 0, r, 1), K::narrow(img, 0, r, 1), xr);
    CHECK(std::abs(l.item() - batched.at({r})) < 1e-12);
    std::vector<Tensor> gr = grad({sum(l)}, params, {}, true);
    for (size_t p = 0; p < params.size(); ++p) {
      Tensor row = K::squeeze(K::narrow(ps[p], 0, r, 1), 0);
      INFO("row " << r << " parameter " << p);
      CHECK(K::amax(K::abs(K::sub(row, gr[p]))).item() < 1e-12);
    }
    Tensor gxr = grad({sum(l)}, {xr})[0];
    CHECK(K::amax(K::abs(K::sub(gxr, K::narrow(gx[0], 0, r, 1)))).item() < 1e-12);
  }
  for (size_t p = 0; p < params.size(); ++p) params[p].copy_(saved[p]);
}

TEST_CASE("a kink recorder sees every relu's pre-activation") {
  Tensor w = Tensor::from_vector(std::vector<double>{1, -1, 2, 0.5}, {2, 2}, DType::Float64).set_requires_grad();
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, -1, 3, 0.5, 0.5}, {3, 2}, DType::Float64);
  KinkRecorder rec;
  relu(relu(linear(x, w)) - 1.0);
  const Tensor u = rec.units();
  CHECK(u.shape() == Shape{3, 4});
  CHECK(u.at({0, 0}) == doctest::Approx(-1.0));  // x0 . w0 = 1 - 2
  CHECK(u.at({0, 1}) == doctest::Approx(3.0));   // x0 . w1 = 2 + 1
  CHECK(u.at({0, 3}) == doctest::Approx(2.0));   // relu(3) - 1
}
