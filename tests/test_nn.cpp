// Tests for nn/: Module (names, order, state dicts, dtype conversion, modes), containers, Dropout,
// initialisation statistics and the loss functions.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>

#include "nn/nn.hpp"
#include "tests/nn_helpers.hpp"

using namespace pathgrad;
using namespace nn_test;

namespace {

// A model with a child Sequential, an own parameter registered after it, and buffers.
struct Net : nn::Module {
  std::shared_ptr<nn::Sequential> layers;
  Tensor scale, steps, running;
  explicit Net(uint64_t seed) {
    nn::manual_seed(seed);
    layers = register_module("layers", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<Module>>{
                                           std::make_shared<nn::Linear>(2, 3), std::make_shared<nn::ReLU>(),
                                           std::make_shared<nn::Linear>(nn::LinearOptions(3, 1).bias(false))}));
    scale = register_parameter("scale", Tensor::full({1}, 2.0));
    steps = register_buffer("steps", Tensor::from_vector(std::vector<int64_t>{7}, {1}));
    running = register_buffer("running", Tensor::zeros({3}));
  }
  Tensor forward(const Tensor& x) override { return layers->forward(x) * scale; }
};

std::vector<std::string> names(const NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& entry : named) out.push_back(entry.first);
  return out;
}

NamedTensors without(NamedTensors state, const std::string& key) {
  std::erase_if(state, [&](const auto& e) { return e.first == key; });
  return state;
}

}  // namespace

// ------------------------------------------------------------------ Module
TEST_CASE("named_parameters: dotted names, own parameters first, registration order") {
  Net net(1);
  CHECK(names(net.named_parameters()) ==
        std::vector<std::string>{"scale", "layers.0.weight", "layers.0.bias", "layers.2.weight"});
  CHECK(names(net.named_buffers()) == std::vector<std::string>{"steps", "running"});
  CHECK(names(net.state_dict()) ==
        std::vector<std::string>{"scale", "steps", "running", "layers.0.weight", "layers.0.bias", "layers.2.weight"});
  CHECK(net.num_parameters() == 1 + 6 + 3 + 3);
  CHECK(net.parameters().size() == 4);
  CHECK(net.named_parameters()[1].second.same(std::static_pointer_cast<nn::Linear>((*net.layers)[0])->weight));
  for (const Tensor& p : net.parameters()) CHECK(p.requires_grad());
  CHECK(!net.steps.requires_grad());
  REQUIRE(net.named_children().size() == 1);
  CHECK(net.named_children()[0].first == "layers");
  CHECK(net.children()[0] == net.layers);
  CHECK(net.layers->named_children()[1].first == "1");
}

TEST_CASE("a module registered twice lists its parameters once") {
  nn::Module root;
  auto shared = std::make_shared<nn::Linear>(2, 2);
  root.register_module("a", shared);
  root.register_module("b", shared);
  CHECK(names(root.named_parameters()) == std::vector<std::string>{"a.weight", "a.bias"});
  CHECK(root.num_parameters() == 6);
  CHECK(names(root.state_dict()) == std::vector<std::string>{"a.weight", "a.bias", "b.weight", "b.bias"});
}

TEST_CASE("registration rejects bad names and tensors") {
  nn::Linear lin(2, 3);
  check_throws_with<std::invalid_argument>([&] { lin.register_parameter("weight", Tensor::zeros({1})); },
                                           {"Linear", "'weight'", "already taken"});
  check_throws_with<std::invalid_argument>([&] { lin.register_buffer("a.b", Tensor::zeros({1})); }, {"'a.b'"});
  check_throws_with<std::invalid_argument>([&] { lin.register_parameter("", Tensor::zeros({1})); }, {"non-empty"});
  check_throws_with<std::invalid_argument>(
      [&] { lin.register_parameter("ids", Tensor::from_vector(std::vector<int64_t>{1}, {1})); }, {"int64"});
  Tensor leaf = Tensor::ones({2}).set_requires_grad();
  check_throws_with<std::invalid_argument>([&] { lin.register_parameter("p", leaf * 2.0); },
                                           {"result of an operation"});
  check_throws_with<std::invalid_argument>([&] { lin.register_module("m", std::shared_ptr<nn::ReLU>()); }, {"null"});
  CHECK(lin.named_parameters().size() == 2);
}

TEST_CASE("forward of a module without one, names and printing") {
  nn::Module plain;
  check_throws_with<std::logic_error>([&] { plain.forward(Tensor::zeros({1})); }, {"Module", "forward"});
  Net net(1);
  CHECK(net.name() == "Net");
  CHECK(nn::Linear(2, 3).name() == "Linear");
  const std::string s = net.to_string();
  INFO(s);
  CHECK(s.find("Net(\n  (layers): Sequential(\n    (0): Linear(in_features=2, out_features=3, bias=true)\n"
               "    (1): ReLU()\n    (2): Linear(in_features=3, out_features=1, bias=false)\n  )\n)") == 0);
}

TEST_CASE("state_dict round trip keeps parameter handles") {
  Net a(1), b(2);
  Tensor x = Tensor::from_vector(std::vector<double>{0.3, -0.7, 1.1, 0.2}, {2, 2}, DType::Float32);
  a.running.fill_(0.5);
  a.steps.fill_(11);
  const std::vector<Tensor> handles = b.parameters();
  CHECK(max_abs_diff(a.forward(x), b.forward(x)) > 1e-3);
  b.load_state_dict(a.state_dict());
  CHECK(max_abs_diff(a.forward(x), b.forward(x)) == 0.0);
  CHECK(b.steps.item() == 11);
  CHECK(b.running.to_vector() == std::vector<double>{0.5, 0.5, 0.5});
  const std::vector<Tensor> after = b.parameters();
  for (size_t i = 0; i < handles.size(); ++i) CHECK(handles[i].same(after[i]));
  // Values were copied, not shared: changing a does not change b.
  a.scale.fill_(-1.0);
  CHECK(b.scale.item() == 2.0);
}

TEST_CASE("load_state_dict errors name every bad key and change nothing") {
  Net a(1), b(2);
  const NamedTensors good = a.state_dict();
  const std::vector<double> before = b.scale.to_vector();

  check_throws_with<std::invalid_argument>([&] { b.load_state_dict(without(good, "layers.0.bias")); },
                                           {"Net.load_state_dict", "missing keys [layers.0.bias]"});
  NamedTensors extra = good;
  extra.emplace_back("layers.9.weight", Tensor::zeros({1}));
  check_throws_with<std::invalid_argument>([&] { b.load_state_dict(extra); }, {"unexpected keys [layers.9.weight]"});
  NamedTensors reshaped = without(good, "layers.0.weight");
  reshaped.emplace_back("layers.0.weight", Tensor::zeros({2, 3}));
  check_throws_with<std::invalid_argument>([&] { b.load_state_dict(reshaped); },
                                           {"'layers.0.weight' is float32 [2, 3], the module has float32 [3, 2]"});
  NamedTensors retyped = without(good, "scale");
  retyped.emplace_back("scale", Tensor::zeros({1}, DType::Float64));
  check_throws_with<std::invalid_argument>([&] { b.load_state_dict(retyped); },
                                           {"'scale' is float64 [1], the module has float32 [1]"});
  NamedTensors twice = good;
  twice.push_back(good[0]);
  check_throws_with<std::invalid_argument>([&] { b.load_state_dict(twice); }, {"duplicate keys [scale]"});
  CHECK(b.scale.to_vector() == before);  // nothing was copied by the failed loads

  // Non-strict: missing and unexpected keys are ignored, the rest is loaded; mismatches still throw.
  b.load_state_dict(without(extra, "scale"), false);
  CHECK(b.scale.to_vector() == before);
  CHECK(b.layers->named_parameters()[0].second.to_vector() == a.layers->named_parameters()[0].second.to_vector());
  CHECK_THROWS_AS(b.load_state_dict(reshaped, false), std::invalid_argument);
}

TEST_CASE("to(Float64) converts parameters and float buffers in place") {
  Net net(3);
  const Tensor w = net.layers->named_parameters()[0].second;
  const std::vector<double> values = w.to_vector();
  Tensor x = Tensor::from_vector(std::vector<double>{0.3, -0.7}, {1, 2}, DType::Float32);
  const double y32 = net.forward(x).item();
  sum(net.forward(x)).backward();
  REQUIRE(w.grad().defined());
  net.to(DType::Float64);
  CHECK(w.dtype() == DType::Float64);  // the same handle, now float64
  CHECK(w.same(net.layers->named_parameters()[0].second));
  CHECK(w.to_vector() == values);
  CHECK(!w.grad().defined());
  CHECK(w.requires_grad());
  CHECK(net.running.dtype() == DType::Float64);
  CHECK(net.steps.dtype() == DType::Int64);
  CHECK(net.forward(x.to(DType::Float64)).item() == doctest::Approx(y32).epsilon(1e-6));
  CHECK_THROWS_AS(net.to(DType::Int64), std::invalid_argument);
}

TEST_CASE("zero_grad clears gradients; train/eval reach every descendant") {
  Net net(4);
  sum(net.forward(Tensor::ones({3, 2}))).backward();
  for (const Tensor& p : net.parameters()) CHECK(p.grad().defined());
  net.zero_grad();
  for (const Tensor& p : net.parameters()) CHECK(!p.grad().defined());
  CHECK(net.is_training());
  net.eval();
  CHECK(!net.is_training());
  CHECK(!(*net.layers)[2]->is_training());
  net.train();
  CHECK((*net.layers)[2]->is_training());
}

// ------------------------------------------------------------------ containers
TEST_CASE("Sequential chains and names its children; Residual adds its input") {
  nn::manual_seed(5);
  nn::Sequential seq;
  auto l1 = seq.push_back(std::make_shared<nn::Linear>(3, 4));
  seq.push_back(std::make_shared<nn::ReLU>());
  auto l2 = seq.push_back(std::make_shared<nn::Linear>(4, 3));
  CHECK(seq.size() == 3);
  CHECK(names(seq.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  Generator g(1);
  Tensor x = rand_uniform({5, 3}, -1, 1, g);
  CHECK(max_abs_diff(seq.forward(x), l2->forward(relu(l1->forward(x)))) == 0.0);
  CHECK_THROWS_AS(seq[3], std::out_of_range);
  CHECK(max_abs_diff(nn::Sequential().forward(x), x) == 0.0);

  auto inner = std::make_shared<nn::Sequential>(
      std::initializer_list<std::shared_ptr<nn::Module>>{std::make_shared<nn::Linear>(3, 3)});
  nn::Residual res(inner);
  CHECK(names(res.named_parameters()) == std::vector<std::string>{"inner.0.weight", "inner.0.bias"});
  CHECK(max_abs_diff(res.forward(x), x + inner->forward(x)) == 0.0);
  nn::Residual bad(std::make_shared<nn::Linear>(3, 2));
  check_throws_with<std::invalid_argument>([&] { bad.forward(x); }, {"Residual", "Linear", "[5, 3]", "[5, 2]"});
}

// ------------------------------------------------------------------ Dropout
TEST_CASE("Dropout drops with probability p in training and is the identity in eval") {
  Generator gen(9);
  auto drop = std::make_shared<nn::Dropout>(nn::DropoutOptions(0.25).generator(&gen));
  nn::Sequential net{drop};
  const int64_t n = 40000;
  Tensor x = Tensor::full({n}, 3.0, DType::Float64).set_requires_grad();
  Tensor y = net.forward(x);
  int64_t zeros = 0;
  for (double v : y.to_vector()) {
    if (v == 0.0)
      ++zeros;
    else
      CHECK(v == doctest::Approx(4.0));  // 3 / (1 - 0.25)
  }
  CHECK(std::abs(static_cast<double>(zeros) / n - 0.25) < 4 * std::sqrt(0.25 * 0.75 / n));
  // The mask is a constant of the graph: the gradient is the mask itself.
  sum(y).backward();
  CHECK(max_abs_diff(x.grad(), kernel::mul_scalar(y.detach(), 1.0 / 3.0)) < 1e-15);

  net.eval();
  CHECK(net.forward(x).same(x));
  net.train();
  Tensor y2 = net.forward(x);
  CHECK(max_abs_diff(y, y2) > 0);  // a new mask per call
  gen.reseed(9);
  CHECK(max_abs_diff(y, net.forward(x)) == 0.0);  // masks come from the given generator

  CHECK(kernel::amax(kernel::abs(nn::Dropout(1.0).forward(x))).item() == 0.0);
  CHECK_THROWS_AS(nn::Dropout(1.5), std::invalid_argument);
}

// ------------------------------------------------------------------ initialisation
namespace {
struct Moments {
  double min, max, mean, var, within_one;  // within_one: fraction with |v - mean| < 1 (for N(0, 1))
};
Moments moments(const Tensor& t) {
  const std::vector<double> v = t.to_vector();
  Moments m{1e300, -1e300, 0, 0, 0};
  for (double x : v) {
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
    m.mean += x / v.size();
  }
  for (double x : v) {
    m.var += (x - m.mean) * (x - m.mean) / v.size();
    m.within_one += std::abs(x) < 1 ? 1.0 / v.size() : 0.0;
  }
  return m;
}
// Checks that t looks like U[-bound, bound): range, mean within 5 sigma, variance bound^2/3 within
// 5 sigma (the variance estimate of a uniform has relative std sqrt(0.8 / n)).
void check_uniform(const Tensor& t, double bound) {
  const Moments m = moments(t);
  const double n = static_cast<double>(t.numel());
  CHECK(m.min >= -bound);
  CHECK(m.max <= bound);
  CHECK(m.min < -0.99 * bound);
  CHECK(m.max > 0.99 * bound);
  CHECK(std::abs(m.mean) < 5 * bound / std::sqrt(3 * n));
  CHECK(std::abs(m.var / (bound * bound / 3) - 1) < 5 * std::sqrt(0.8 / n));
}
}  // namespace

TEST_CASE("default initialisation matches PyTorch's distributions") {
  nn::manual_seed(11);
  nn::Linear lin(64, 512);  // fan_in 64: U(-1/8, 1/8) for weight and bias
  check_uniform(lin.weight, 1.0 / 8);
  nn::Linear wide(64, 8192);
  check_uniform(wide.bias, 1.0 / 8);
  nn::Conv2d conv(nn::Conv2dOptions(3, 256, 5));  // fan_in 3*5*5 = 75
  check_uniform(conv.weight, 1.0 / std::sqrt(75.0));
  nn::Conv2d conv_b(nn::Conv2dOptions(2, 8192, 2));  // fan_in 8
  check_uniform(conv_b.bias, 1.0 / std::sqrt(8.0));
  CHECK(!nn::Conv2d(nn::Conv2dOptions(2, 3, 2).bias(false)).bias.defined());

  nn::Embedding emb(200, 200);  // N(0, 1)
  const Moments m = moments(emb.weight);
  const double n = 40000;
  CHECK(std::abs(m.mean) < 5 / std::sqrt(n));
  CHECK(std::abs(m.var - 1) < 5 * std::sqrt(2 / n));
  CHECK(std::abs(m.within_one - 0.682689) < 5 * std::sqrt(0.6827 * 0.3173 / n));

  nn::LayerNorm ln(nn::LayerNormOptions({3, 4}));
  CHECK(ln.weight.to_vector() == std::vector<double>(12, 1.0));
  CHECK(ln.bias.to_vector() == std::vector<double>(12, 0.0));
  CHECK(ln.weight.shape() == Shape{3, 4});
}

TEST_CASE("init functions, generators and seeds") {
  Tensor t = Tensor::zeros({100, 300}, DType::Float64);
  Generator g(1);
  nn::init::kaiming_uniform_(t, 0.0, std::nullopt, g);  // gain sqrt(2), bound sqrt(6 / 300)
  check_uniform(t, std::sqrt(6.0 / 300));
  nn::init::kaiming_uniform_(t, 1.0, 50, g);  // gain 1, bound sqrt(3 / 50)
  check_uniform(t, std::sqrt(3.0 / 50));
  nn::init::uniform_(t, 2.0, 4.0, g);
  CHECK(moments(t).min >= 2.0);
  CHECK(moments(t).mean == doctest::Approx(3.0).epsilon(1e-2));
  nn::init::normal_(t, 5.0, 0.5, g);
  CHECK(moments(t).mean == doctest::Approx(5.0).epsilon(1e-3));
  CHECK(moments(t).var == doctest::Approx(0.25).epsilon(2e-2));
  nn::init::ones_(t);
  CHECK(moments(t).min == 1.0);
  nn::init::zeros_(t);
  CHECK(moments(t).max == 0.0);

  CHECK(nn::init::calculate_fan_in(Tensor::zeros({4, 3, 5, 2})) == 30);
  check_throws_with<std::invalid_argument>([] { nn::init::calculate_fan_in(Tensor::zeros({4})); }, {"[4]"});
  CHECK_THROWS_AS(nn::init::uniform_(Tensor::zeros({2}, DType::Int64), 0, 1), std::invalid_argument);

  // The same seed gives the same weights; a given generator leaves the default one alone.
  nn::manual_seed(3);
  nn::Linear a(4, 5);
  nn::manual_seed(3);
  Generator own(99);
  nn::Linear c(nn::LinearOptions(4, 5).generator(&own));
  nn::Linear b(4, 5);
  CHECK(a.weight.to_vector() == b.weight.to_vector());
  CHECK(a.bias.to_vector() == b.bias.to_vector());
  CHECK(a.weight.to_vector() != c.weight.to_vector());
  CHECK(a.weight.dtype() == DType::Float32);
}

TEST_CASE("layer options are validated") {
  check_throws_with<std::invalid_argument>([] { nn::Linear(0, 3); }, {"Linear", "in_features", "0"});
  check_throws_with<std::invalid_argument>([] { nn::Conv2d(nn::Conv2dOptions(1, 2, 3).stride(0)); },
                                           {"Conv2d", "stride"});
  check_throws_with<std::invalid_argument>([] { nn::Embedding(5, -1); }, {"Embedding", "embedding_dim"});
  check_throws_with<std::invalid_argument>([] { nn::LayerNorm(nn::LayerNormOptions({})); }, {"LayerNorm"});
  check_throws_with<std::invalid_argument>([] { nn::MultiHeadAttention(10, 3); }, {"10", "3", "d_head"});
  check_throws_with<std::invalid_argument>([] { nn::MaxPool2d(0); }, {"MaxPool2d"});
}

// ------------------------------------------------------------------ losses
TEST_CASE("nll_loss and cross_entropy: hand-computed values for each reduction and weights") {
  const Tensor lp =
      kernel::log(Tensor::from_vector(std::vector<double>{.2, .3, .5, .6, .3, .1}, {2, 3}, DType::Float64));
  const Tensor target = Tensor::from_vector(std::vector<int64_t>{2, 0}, {2});
  const double l0 = -std::log(.5), l1 = -std::log(.6);
  CHECK(nn::nll_loss(lp, target).item() == doctest::Approx((l0 + l1) / 2).epsilon(1e-14));
  CHECK(nn::nll_loss(lp, target, nn::Reduction::Sum).item() == doctest::Approx(l0 + l1).epsilon(1e-14));
  const Tensor none = nn::nll_loss(lp, target, nn::Reduction::None);
  CHECK(none.shape() == Shape{2});
  CHECK(none.at({0}) == doctest::Approx(l0).epsilon(1e-14));
  CHECK(none.at({1}) == doctest::Approx(l1).epsilon(1e-14));
  const Tensor w = Tensor::from_vector(std::vector<double>{2.0, 0.5}, {2}, DType::Float64);
  CHECK(nn::nll_loss(lp, target, nn::Reduction::Mean, w).item() ==
        doctest::Approx((2 * l0 + 0.5 * l1) / 2).epsilon(1e-14));  // divided by B, not by sum(w)
  CHECK(nn::nll_loss(lp, target, nn::Reduction::Sum, w).item() == doctest::Approx(2 * l0 + 0.5 * l1).epsilon(1e-14));
  CHECK(nn::nll_loss(lp, target, nn::Reduction::None, w).at({1}) == doctest::Approx(0.5 * l1).epsilon(1e-14));

  const Tensor logits = Tensor::from_vector(std::vector<double>{1, 2, 3, 1, 1, 1}, {2, 3}, DType::Float64);
  const Tensor t2 = Tensor::from_vector(std::vector<int64_t>{0, 2}, {2});
  const double c0 = -1 + std::log(std::exp(1) + std::exp(2) + std::exp(3)), c1 = std::log(3.0);
  CHECK(nn::cross_entropy(logits, t2).item() == doctest::Approx((c0 + c1) / 2).epsilon(1e-14));
  CHECK(nn::cross_entropy(logits, t2, nn::Reduction::None, w).at({0}) == doctest::Approx(2 * c0).epsilon(1e-14));

  Generator g(2);
  Tensor x = rand64({3, 4}, g).set_requires_grad();
  Tensor y = Tensor::from_vector(std::vector<int64_t>{3, 0, 1}, {3});
  Tensor w3 = Tensor::from_vector(std::vector<double>{0.5, 1.0, 2.0}, {3}, DType::Float64);
  check_grad([&](const std::vector<Tensor>& v) { return nn::cross_entropy(v[0], y, nn::Reduction::Mean, w3); }, {x});
  check_grad([&](const std::vector<Tensor>& v) { return nn::nll_loss(log_softmax(v[0], 1), y, nn::Reduction::None); },
             {x});
}

TEST_CASE("mse_loss: hand-computed values for each reduction and weights") {
  const Tensor pred = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}, DType::Float64);
  const Tensor target = Tensor::from_vector(std::vector<double>{0, 2, 5, 1}, {2, 2}, DType::Float64);
  CHECK(nn::mse_loss(pred, target).item() == 3.5);  // (1 + 0 + 4 + 9) / 4
  CHECK(nn::mse_loss(pred, target, nn::Reduction::Sum).item() == 14.0);
  CHECK(nn::mse_loss(pred, target, nn::Reduction::None).to_vector() == std::vector<double>{1, 0, 4, 9});
  const Tensor w = Tensor::from_vector(std::vector<double>{1, 2}, {2}, DType::Float64);
  CHECK(nn::mse_loss(pred, target, nn::Reduction::Mean, w).item() == 27.0 / 4);
  CHECK(nn::mse_loss(pred, target, nn::Reduction::None, w).to_vector() == std::vector<double>{1, 0, 8, 18});
  Generator g(3);
  Tensor p = rand64({3, 2, 2}, g).set_requires_grad();
  Tensor t = rand64({3, 2, 2}, g);
  Tensor w3 = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::Float64);
  check_grad([&](const std::vector<Tensor>& v) { return nn::mse_loss(v[0], t, nn::Reduction::Mean, w3); }, {p});
}

TEST_CASE("losses reject bad shapes, dtypes and targets") {
  const Tensor lp = Tensor::zeros({2, 3}, DType::Float64);
  check_throws_with<std::out_of_range>(
      [&] {
        nn::nll_loss(lp, Tensor::from_vector(std::vector<int64_t>{0, 3}, {2}));
      },
      {"nll_loss", "target[1] = 3", "[0, 3)"});
  check_throws_with<std::out_of_range>(
      [&] {
        nn::cross_entropy(lp, Tensor::from_vector(std::vector<int64_t>{-1, 0}, {2}));
      },
      {"cross_entropy", "target[0] = -1"});
  check_throws_with<std::invalid_argument>([&] { nn::nll_loss(lp, Tensor::zeros({2}, DType::Float64)); },
                                           {"nll_loss", "int64 [2]", "float64 [2]"});
  check_throws_with<std::invalid_argument>(
      [&] {
        nn::nll_loss(lp, Tensor::from_vector(std::vector<int64_t>{0, 1, 2}, {3}));
      },
      {"[3]"});
  check_throws_with<std::invalid_argument>([&] { nn::cross_entropy(Tensor::zeros({3}), Tensor()); },
                                           {"cross_entropy", "[B, C]", "[3]"});
  const Tensor target = Tensor::from_vector(std::vector<int64_t>{0, 1}, {2});
  check_throws_with<std::invalid_argument>(
      [&] { nn::nll_loss(lp, target, nn::Reduction::Mean, Tensor::ones({3}, DType::Float64)); },
      {"nll_loss", "weights", "[2]", "[3]"});
  check_throws_with<std::invalid_argument>(
      [&] { nn::nll_loss(lp, target, nn::Reduction::Mean, Tensor::ones({2}, DType::Float32)); }, {"float32"});
  check_throws_with<std::invalid_argument>(
      [&] {
        nn::mse_loss(Tensor::zeros({2, 3}), Tensor::zeros({2, 1}));
      },
      {"mse_loss", "[2, 3]", "[2, 1]"});
  check_throws_with<std::invalid_argument>(
      [&] {
        nn::nll_loss(Tensor::zeros({0, 3}), Tensor::zeros({0}, DType::Int64));
      },
      {"empty batch"});
}
