// Tests for nn/ layers: float64 gradient checks of every layer, per-sample gradients through every
// parametrised layer (and a small transformer and CNN built from them), attention against loops.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <memory>

#include "nn/nn.hpp"
#include "tests/nn_helpers.hpp"

using namespace pathgrad;
using namespace nn_test;

namespace {

// Gradient check of m.forward with respect to x (when it requires grad) and every parameter.
void check_layer(nn::Module& m, const Tensor& x) {
  std::vector<Tensor> inputs{x};
  for (const Tensor& p : m.parameters()) inputs.push_back(p);
  check_grad([&](const std::vector<Tensor>& v) { return m.forward(v[0]); }, inputs);
}

// Values in +-[0.1, 1]: away from ReLU's kink at 0.
Tensor away_from_zero(const Shape& shape, Generator& g) {
  return kernel::mul(rand64(shape, g, 0.1, 1.0), kernel::sign(rand64(shape, g)));
}

// Distinct values 0.1 apart in random order: no ties within a pooling window.
Tensor distinct(const Shape& shape, Generator& g) {
  return kernel::mul_scalar(kernel::reshape(randperm(numel(shape), g).to(DType::Float64), shape), 0.1);
}

// Per-sample losses sum(tanh(m(x_i))) over the non-batch dims of the output.
void check_layer_per_sample(nn::Module& m, const Tensor& x) {
  check_per_sample(
      [&](int64_t start, int64_t len) {
        Tensor y = tanh(m.forward(rows(x, start, len)));
        std::vector<int64_t> dims;
        for (int64_t d = 1; d < y.dim(); ++d) dims.push_back(d);
        return sum(y, dims);
      },
      x.size(0), m.parameters());
}

// Gives LayerNorm-style constant parameters random values, so that their gradients are generic.
void randomize(nn::Module& m, Generator& g) {
  for (const Tensor& p : m.parameters()) nn::init::uniform_(p, -1.0, 1.0, g);
}

}  // namespace

// ------------------------------------------------------------------ gradient checks
TEST_CASE("gradient checks: Linear, Embedding, Conv2d") {
  Generator g(1);
  nn::manual_seed(1);
  nn::Linear lin(4, 3);
  lin.to(DType::Float64);
  check_layer(lin, rand64({2, 5, 4}, g).set_requires_grad());
  nn::Linear nobias(nn::LinearOptions(4, 3).bias(false));
  nobias.to(DType::Float64);
  CHECK(nobias.parameters().size() == 1);
  check_layer(nobias, rand64({3, 4}, g).set_requires_grad());

  nn::Embedding emb(6, 3);
  emb.to(DType::Float64);
  check_layer(emb, Tensor::from_vector(std::vector<int64_t>{0, 5, 2, 2, 1, 5}, {2, 3}));
  check_throws_with<std::out_of_range>([&] { emb.forward(Tensor::from_vector(std::vector<int64_t>{6}, {1})); }, {"6"});
  check_throws_with<std::invalid_argument>([&] { emb.forward(Tensor::zeros({2})); }, {"Embedding", "float32"});

  nn::Conv2d conv(nn::Conv2dOptions(2, 3, 3).stride(2).padding(1));
  conv.to(DType::Float64);
  Tensor img = rand64({2, 2, 5, 5}, g).set_requires_grad();
  CHECK(conv.forward(img).shape() == Shape{2, 3, 3, 3});
  check_layer(conv, img);
  nn::Conv2d conv_nb(nn::Conv2dOptions(2, 2, 2).bias(false));
  conv_nb.to(DType::Float64);
  check_layer(conv_nb, img);
  check_throws_with<std::invalid_argument>([&] { conv.forward(rand64({2, 3, 5, 5}, g)); }, {"conv2d", "[2, 3, 5, 5]"});
}

TEST_CASE("gradient checks: pooling, ReLU, Flatten, LogSoftmax, Dropout") {
  Generator g(2);
  nn::MaxPool2d pool(2);
  Tensor x = distinct({2, 2, 4, 4}, g).set_requires_grad();
  CHECK(pool.forward(x).shape() == Shape{2, 2, 2, 2});
  check_layer(pool, x);
  nn::MaxPool2d overlapping(nn::MaxPool2dOptions(3).stride(1));
  CHECK(overlapping.forward(x).shape() == Shape{2, 2, 2, 2});
  check_layer(overlapping, x);
  nn::AdaptiveMaxPool2d adaptive(2, 3);
  Tensor y = distinct({1, 2, 5, 7}, g).set_requires_grad();
  CHECK(adaptive.forward(y).shape() == Shape{1, 2, 2, 3});
  check_layer(adaptive, y);

  nn::ReLU relu_layer;
  check_layer(relu_layer, away_from_zero({3, 4}, g).set_requires_grad());
  nn::Flatten flat;
  CHECK(flat.forward(x).shape() == Shape{2, 32});
  check_layer(flat, rand64({2, 3, 2}, g).set_requires_grad());
  nn::LogSoftmax lsm(1);
  check_layer(lsm, rand64({3, 4, 2}, g).set_requires_grad());

  Generator masks(4);
  nn::Dropout drop(nn::DropoutOptions(0.5).generator(&masks));
  Tensor z = rand64({4, 5}, g).set_requires_grad();
  // The same mask on every evaluation of the check: reseed before each forward.
  check_grad(
      [&](const std::vector<Tensor>& v) {
        masks.reseed(4);
        return drop.forward(v[0]);
      },
      {z});
}

TEST_CASE("gradient checks: LayerNorm over one and two dims, with and without affine") {
  Generator g(3);
  nn::LayerNorm ln(4);
  ln.to(DType::Float64);
  randomize(ln, g);
  check_layer(ln, rand64({2, 3, 4}, g).set_requires_grad());
  nn::LayerNorm ln2(nn::LayerNormOptions({3, 4}).eps(1e-3));
  ln2.to(DType::Float64);
  randomize(ln2, g);
  check_layer(ln2, rand64({2, 3, 4}, g).set_requires_grad());
  nn::LayerNorm plain(nn::LayerNormOptions({4}).elementwise_affine(false));
  CHECK(plain.parameters().empty());
  check_layer(plain, rand64({5, 4}, g).set_requires_grad());

  // Values: each row normalised to mean 0 and variance 1 / (1 + eps / var).
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 4}, DType::Float64);
  const std::vector<double> out = plain.forward(x).to_vector();
  const double sd = std::sqrt(1.25 + 1e-5);
  for (int i = 0; i < 4; ++i) CHECK(out[i] == doctest::Approx((i + 1 - 2.5) / sd).epsilon(1e-14));
  check_throws_with<std::invalid_argument>(
      [&] {
        ln2.forward(rand64({2, 4, 3}, g));
      },
      {"LayerNorm", "[2, 4, 3]", "[3, 4]"});
}

TEST_CASE("gradient checks: Sequential, Residual, attention") {
  Generator g(4);
  nn::manual_seed(4);
  nn::Sequential seq{std::make_shared<nn::Linear>(3, 5), std::make_shared<nn::ReLU>(),
                     std::make_shared<nn::Linear>(5, 2)};
  seq.to(DType::Float64);
  check_layer(seq, rand64({4, 3}, g).set_requires_grad());
  nn::Residual res(std::make_shared<nn::Linear>(3, 3));
  res.to(DType::Float64);
  check_layer(res, rand64({4, 3}, g).set_requires_grad());

  nn::MultiHeadAttention shared(nn::MultiHeadAttentionOptions(6, 2).causal(true));
  shared.to(DType::Float64);
  check_layer(shared, rand64({2, 3, 6}, g).set_requires_grad());
  nn::MultiHeadAttention separate(nn::MultiHeadAttentionOptions(6, 3).d_head(4).shared_qkv(false).bias(true));
  separate.to(DType::Float64);
  check_layer(separate, rand64({2, 3, 6}, g).set_requires_grad());
  for (nn::MultiHeadAttention* m : {&shared, &separate})  // the last position alone
    check_grad([&](const std::vector<Tensor>& v) { return m->forward_last(v[0]); },
               [&] {
                 std::vector<Tensor> in{rand64({2, 3, 6}, g).set_requires_grad()};
                 for (const Tensor& p : m->parameters()) in.push_back(p);
                 return in;
               }());

  Tensor q = rand64({2, 2, 3, 4}, g).set_requires_grad(), k = rand64({2, 2, 5, 4}, g).set_requires_grad();
  Tensor v = rand64({2, 2, 5, 3}, g).set_requires_grad();
  Tensor mask = Tensor::from_vector(std::vector<int64_t>{1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0}, {3, 5});
  check_grad([&](const std::vector<Tensor>& in) { return nn::scaled_dot_product_attention(in[0], in[1], in[2], mask); },
             {q, k, v});
}

// ------------------------------------------------------------------ per-sample gradients
TEST_CASE("per-sample gradients through every parametrised layer") {
  Generator g(5);
  nn::manual_seed(5);
  nn::Linear lin(4, 3);
  lin.to(DType::Float64);
  check_layer_per_sample(lin, rand64({3, 2, 4}, g));
  check_layer_per_sample(lin, rand64({3, 4}, g));

  nn::Embedding emb(5, 3);
  emb.to(DType::Float64);
  check_layer_per_sample(emb, Tensor::from_vector(std::vector<int64_t>{0, 4, 4, 1, 2, 0}, {3, 2}));

  nn::Conv2d conv(nn::Conv2dOptions(2, 3, 2).stride(2).padding(1));
  conv.to(DType::Float64);
  check_layer_per_sample(conv, rand64({3, 2, 5, 5}, g));

  nn::LayerNorm ln(nn::LayerNormOptions({2, 4}));
  ln.to(DType::Float64);
  randomize(ln, g);
  check_layer_per_sample(ln, rand64({3, 2, 4}, g));
  nn::LayerNorm ln1(4);
  ln1.to(DType::Float64);
  randomize(ln1, g);
  check_layer_per_sample(ln1, rand64({3, 4}, g));

  nn::MultiHeadAttention shared(nn::MultiHeadAttentionOptions(6, 2));
  shared.to(DType::Float64);
  check_layer_per_sample(shared, rand64({3, 4, 6}, g));
  nn::MultiHeadAttention separate(nn::MultiHeadAttentionOptions(6, 2).shared_qkv(false).bias(true).causal(true));
  separate.to(DType::Float64);
  check_layer_per_sample(separate, rand64({3, 4, 6}, g));
}

namespace {

// The grokking transformer's shape: token + position embeddings, one attention block with shared
// q/k/v heads, a ReLU MLP, both residual, a LayerNorm, and an unembedding read at the last position.
struct TinyTransformer : nn::Module {
  std::shared_ptr<nn::Embedding> embed;
  Tensor pos;
  std::shared_ptr<nn::Residual> attn, mlp;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> unembed;
  TinyTransformer(int64_t vocab, int64_t T, int64_t d) {
    embed = register_module("embed", std::make_shared<nn::Embedding>(vocab, d));
    pos = register_parameter("pos", Tensor::zeros({T, d}));
    nn::init::normal_(pos, 0.0, 0.5);
    attn = register_module("attn", std::make_shared<nn::Residual>(std::make_shared<nn::MultiHeadAttention>(
                                       nn::MultiHeadAttentionOptions(d, 2).d_head(3))));
    mlp = register_module("mlp", std::make_shared<nn::Residual>(std::make_shared<nn::Sequential>(
                                     std::initializer_list<std::shared_ptr<nn::Module>>{
                                         std::make_shared<nn::Linear>(d, 2 * d), std::make_shared<nn::ReLU>(),
                                         std::make_shared<nn::Linear>(2 * d, d)})));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(d));
    unembed = register_module("unembed", std::make_shared<nn::Linear>(nn::LinearOptions(d, vocab).bias(false)));
  }
  Tensor forward(const Tensor& ids) override {  // [B, T] -> [B, vocab]
    Tensor h = embed->forward(ids) + pos;       // [B, T, d]
    h = norm->forward(mlp->forward(attn->forward(h)));
    return unembed->forward(select(h, 1, -1));  // [B, d] -> [B, vocab]
  }
};

}  // namespace

TEST_CASE("per-sample gradients of a small transformer") {
  nn::manual_seed(6);
  TinyTransformer model(7, 3, 4);
  model.to(DType::Float64);
  Generator g(6);
  randomize(*model.norm, g);
  std::vector<std::string> names;
  for (const auto& [n, t] : model.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"pos", "embed.weight", "attn.inner.qkv.weight", "attn.inner.out.weight",
                                          "mlp.inner.0.weight", "mlp.inner.0.bias", "mlp.inner.2.weight",
                                          "mlp.inner.2.bias", "norm.weight", "norm.bias", "unembed.weight"});
  const Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 2, 0, 6, 6, 3, 0, 0, 5, 4, 2, 1}, {4, 3});
  const Tensor targets = Tensor::from_vector(std::vector<int64_t>{3, 0, 6, 1}, {4});
  check_per_sample(
      [&](int64_t start, int64_t len) {
        return nn::cross_entropy(model.forward(rows(ids, start, len)), rows(targets, start, len), nn::Reduction::None);
      },
      4, model.parameters());
}

TEST_CASE("per-sample gradients of a small CNN") {
  nn::manual_seed(7);
  nn::Sequential cnn{std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 3, 3).padding(1)),
                     std::make_shared<nn::ReLU>(),
                     std::make_shared<nn::MaxPool2d>(2),
                     std::make_shared<nn::Conv2d>(3, 4, 3),
                     std::make_shared<nn::ReLU>(),
                     std::make_shared<nn::AdaptiveMaxPool2d>(2),
                     std::make_shared<nn::Flatten>(),
                     std::make_shared<nn::Dropout>(0.5),
                     std::make_shared<nn::Linear>(16, 3)};
  cnn.to(DType::Float64);
  cnn.eval();
  Generator g(7);
  const Tensor x = rand64({3, 1, 8, 8}, g);
  const Tensor targets = Tensor::from_vector(std::vector<int64_t>{2, 0, 1}, {3});
  check_per_sample(
      [&](int64_t start, int64_t len) {
        return nn::cross_entropy(cnn.forward(rows(x, start, len)), rows(targets, start, len), nn::Reduction::None);
      },
      3, cnn.parameters());
}

// ------------------------------------------------------------------ attention against loops
namespace {

// out[b, h, t, :] = sum_s softmax_s(q.k / sqrt(Dh), over kept s) v[b, h, s, :], by explicit loops.
template <class Keep>
Tensor attention_loops(const Tensor& q, const Tensor& k, const Tensor& v, Keep keep) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), Dh = q.size(3), S = k.size(2), Dv = v.size(3);
  Tensor out = Tensor::zeros({B, H, T, Dv}, DType::Float64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> w(S, 0.0);
        double top = -std::numeric_limits<double>::infinity(), total = 0;
        for (int64_t s = 0; s < S; ++s) {
          if (!keep(b, h, t, s)) continue;
          for (int64_t d = 0; d < Dh; ++d) w[s] += q.at({b, h, t, d}) * k.at({b, h, s, d});
          w[s] /= std::sqrt(static_cast<double>(Dh));
          top = std::max(top, w[s]);
        }
        for (int64_t s = 0; s < S; ++s) {
          w[s] = keep(b, h, t, s) ? std::exp(w[s] - top) : 0.0;
          total += w[s];
        }
        for (int64_t s = 0; s < S; ++s)
          for (int64_t d = 0; d < Dv; ++d)
            out.set({b, h, t, d}, out.at({b, h, t, d}) + w[s] / total * v.at({b, h, s, d}));
      }
  return out;
}

// Multi-head attention by loops over the documented parameter layout: head h uses rows
// [h*Dh, (h+1)*Dh) of the q/k/v (or shared qkv) weights and columns [h*Dh, (h+1)*Dh) of out.weight.
Tensor mha_loops(const nn::MultiHeadAttention& m, const Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2), H = m.options().num_heads(), Dh = m.d_head();
  const bool causal = m.options().causal();
  auto project = [&](const std::shared_ptr<nn::Linear>& lin, int64_t h) {  // [B, 1, T, Dh]
    Tensor r = Tensor::zeros({B, 1, T, Dh}, DType::Float64);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < Dh; ++j) {
          double acc = lin->bias.defined() ? lin->bias.at({h * Dh + j}) : 0.0;
          for (int64_t i = 0; i < D; ++i) acc += x.at({b, t, i}) * lin->weight.at({h * Dh + j, i});
          r.set({b, 0, t, j}, acc);
        }
    return r;
  };
  Tensor y = Tensor::zeros({B, T, D}, DType::Float64);
  for (int64_t o = 0; o < D; ++o)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) y.set({b, t, o}, m.out->bias.defined() ? m.out->bias.at({o}) : 0.0);
  for (int64_t h = 0; h < H; ++h) {
    Tensor a = m.qkv ? attention_loops(project(m.qkv, h), project(m.qkv, h), project(m.qkv, h),
                                       [&](int64_t, int64_t, int64_t t, int64_t s) { return !causal || s <= t; })
                     : attention_loops(project(m.q, h), project(m.k, h), project(m.v, h),
                                       [&](int64_t, int64_t, int64_t t, int64_t s) { return !causal || s <= t; });
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t o = 0; o < D; ++o) {
          double acc = y.at({b, t, o});
          for (int64_t j = 0; j < Dh; ++j) acc += a.at({b, 0, t, j}) * m.out->weight.at({o, h * Dh + j});
          y.set({b, t, o}, acc);
        }
  }
  return y;
}

}  // namespace

TEST_CASE("scaled_dot_product_attention matches loops, with and without a mask") {
  Generator g(8);
  Tensor q = rand64({2, 3, 4, 5}, g, -2, 2), k = rand64({2, 3, 6, 5}, g, -2, 2), v = rand64({2, 3, 6, 2}, g);
  CHECK(max_abs_diff(nn::scaled_dot_product_attention(q, k, v),
                     attention_loops(q, k, v, [](auto...) { return true; })) < 1e-13);
  // A [B, 1, T, S] keep mask of 0/1 floats, with key 0 always kept.
  Tensor mask = kernel::ge(rand64({2, 1, 4, 6}, g), Tensor::zeros({}, DType::Float64));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 4; ++t) mask.set({b, 0, t, 0}, 1.0);
  auto keep = [&](int64_t b, int64_t, int64_t t, int64_t s) { return mask.at({b, 0, t, s}) != 0; };
  CHECK(max_abs_diff(nn::scaled_dot_product_attention(q, k, v, mask), attention_loops(q, k, v, keep)) < 1e-13);
  CHECK(nn::causal_mask(3).to_vector() == std::vector<double>{1, 0, 0, 1, 1, 0, 1, 1, 1});

  check_throws_with<std::invalid_argument>(
      [&] {
        nn::scaled_dot_product_attention(q, rand64({2, 3, 6, 4}, g), v);
      },
      {"scaled_dot_product_attention", "[2, 3, 6, 4]"});
  check_throws_with<std::invalid_argument>(
      [&] {
        nn::scaled_dot_product_attention(q, k, v, Tensor::ones({4, 5}));
      },
      {"[4, 5]"});
}

TEST_CASE("MultiHeadAttention matches loops over its documented per-head parameter ranges") {
  Generator g(9);
  nn::manual_seed(9);
  Tensor x = rand64({2, 4, 6}, g);
  nn::MultiHeadAttention shared(nn::MultiHeadAttentionOptions(6, 3).d_head(4).causal(true));
  shared.to(DType::Float64);
  CHECK(shared.qkv->weight.shape() == Shape{12, 6});
  CHECK(shared.out->weight.shape() == Shape{6, 12});
  CHECK(!shared.q);
  CHECK(max_abs_diff(shared.forward(x), mha_loops(shared, x)) < 1e-13);

  nn::MultiHeadAttention separate(nn::MultiHeadAttentionOptions(6, 2).shared_qkv(false).bias(true));
  separate.to(DType::Float64);
  CHECK(separate.d_head() == 3);
  CHECK(!separate.qkv);
  CHECK(max_abs_diff(separate.forward(x), mha_loops(separate, x)) < 1e-13);
  // forward_last: the last position's row of forward, computed from its query alone.
  for (nn::MultiHeadAttention* m : {&shared, &separate}) {
    const Tensor last = m->forward_last(x);
    REQUIRE(last.shape() == Shape{2, 6});
    CHECK(max_abs_diff(last, select(mha_loops(*m, x), 1, 3)) < 1e-13);
  }

  // An extra padding mask [B, 1, 1, T] combines with the causal one.
  Tensor pad = Tensor::from_vector(std::vector<double>{1, 1, 1, 1, 1, 0, 1, 1}, {2, 1, 1, 4}, DType::Float64);
  nn::MultiHeadAttention causal(nn::MultiHeadAttentionOptions(6, 2).causal(true));
  causal.to(DType::Float64);
  const Tensor heads = permute(reshape(causal.qkv->forward(x), {2, 4, 2, 3}), {0, 2, 1, 3});  // [B, H, T, Dh]
  Tensor h =
      nn::scaled_dot_product_attention(heads, heads, heads, kernel::mul(pad, nn::causal_mask(4, DType::Float64)));
  Tensor expected = causal.out->forward(reshape(permute(h, {0, 2, 1, 3}), {2, 4, 6}));
  CHECK(max_abs_diff(causal.forward(x, pad), expected) < 1e-14);
  CHECK(max_abs_diff(causal.forward(x, pad), causal.forward(x)) > 1e-3);  // the padding mattered

  check_throws_with<std::invalid_argument>(
      [&] {
        shared.forward(rand64({2, 4, 5}, g));
      },
      {"MultiHeadAttention", "d_model=6", "[2, 4, 5]"});
}
