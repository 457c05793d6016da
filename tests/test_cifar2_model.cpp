// The CIFAR-2 example's model (examples/cifar2/model.hpp): its size and shapes, and its forward
// pass, gradients and SGD steps against PyTorch 1.13 (tests/fixtures/make_cifar2_fixture.py).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "examples/cifar2/model.hpp"
#include "nn/init.hpp"
#include "nn/loss.hpp"
#include "optim/schedule.hpp"
#include "optim/sgd.hpp"
#include "tensor/json_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/npy.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;

namespace {
int64_t parameter_count(nn::Module& m) {
  int64_t n = 0;
  for (const auto& [name, p] : m.named_parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST_CASE("cifar2 ResNet9: the paper's 2,271,168 parameters at width 64, in PyTorch's order") {
  cifar2::ResNet9 net(64);
  CHECK(parameter_count(net) == 2271168);
  std::vector<std::string> names;
  for (const auto& [name, p] : net.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"conv1.conv.weight", "conv2.conv.weight", "res1.block1.conv.weight",
                                          "res1.block2.conv.weight", "conv3.conv.weight", "res2.block1.conv.weight",
                                          "res2.block2.conv.weight", "conv4.conv.weight", "head.weight"});
  CHECK(net.conv2->conv->weight.shape() == Shape{128, 64, 5, 5});
  CHECK(net.conv4->conv->weight.shape() == Shape{128, 256, 3, 3});
  CHECK(net.head->weight.shape() == Shape{2, 128});
}

TEST_CASE("cifar2 ResNet9: log-probabilities of shape [N, 2] at any width") {
  nn::manual_seed(3);
  cifar2::ResNet9 net(2);
  CHECK(parameter_count(net) == 554 * 4 + 27 * 2 + 2 * 2 * 2);  // 554 w² + 27 w + 2w · classes
  Generator gen(5);
  const Tensor x = rand_normal({3, 3, 32, 32}, 0.0, 1.0, gen);
  const Tensor out = net.forward(x);
  REQUIRE(out.shape() == Shape{3, 2});
  // log-probabilities: each row's probabilities add up to 1 (float32 rounding of two terms)
  const Tensor total = kernel::sum(kernel::exp(out.to(DType::Float64)), {1});
  for (int64_t i = 0; i < 3; ++i) CHECK(total.at({i}) == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(cifar2::resnet9_forward_macs(64) ==
        1728 * 1024 + 204800 * 256 + 2 * 147456 * 256 + 294912 * 256 + 589824 * 2 * 64 + 294912 * 36 + 256);
}

// ---------------------------------------------------------------- against PyTorch 1.13
//
// Tolerances, from float32 rounding (eps = 2^-23 ≈ 1.19e-7) and the size of each computation.
// The fixture's run stays more than 2e-6 of each tensor's largest magnitude away from every ReLU
// kink and max-pool tie (the generator checks), far above the differences below, so both
// frameworks take the same branches and differ by rounding alone:
// - log-probabilities and losses: every activation carries a few eps of its tensor's largest
//   magnitude (PyTorch's, measured against float64: 2–5e-7, at most 4 eps, at each of the eight
//   convolutions), so two frameworks differ by at most 8 eps; the head and log-softmax add a few
//   roundings of |log p| itself. Tolerance 8 eps of the largest |log p| (measured: 0.7 eps).
// - gradients: a weight's gradient sums |dL/d output| · |input| terms over every sample and
//   position (2,048 of them for conv1), which cancel: conv1's largest gradient is 1/12 of its
//   largest Σ|terms|. Rounding scales with Σ|terms|, not with the result: each term's factors carry
//   the activations' few eps, and the summation order (blocked GEMM here, oneDNN there) adds about
//   one eps of Σ|terms|. Tolerance 8 eps of the largest Σ|terms| (the fixture's term_scales):
//   measured at most 3.2 eps (conv4), 1.0 eps for conv1 (12 eps of its largest gradient, PyTorch's
//   own error against float64; pathgrad's is 2 eps).
// - parameters after step s: each step rounds θ − η·u once per framework (PyTorch with a fused
//   multiply-add), at most one eps of |θ| apart per step; and the gradients' differences reach
//   θ through the momentum buffer, bounded by running the SGD recursion on their tolerances.
//   Tolerance (s + 1) eps of the largest |θ| plus that bound (measured: at most 1.5 eps of |θ|).

namespace {

constexpr double kEps = std::numeric_limits<float>::epsilon();
constexpr double kFactor = 8;  // the tolerances' multiple of eps, derived above

// tests/fixtures/cifar2/, written by tests/fixtures/make_cifar2_fixture.py.
struct Reference {
  nlohmann::json config;
  Tensor images;        // float32 [steps, batch, 3, 32, 32]
  Tensor init, grads;   // float32 [P]: the parameters in order, flattened and concatenated
  Tensor params_after;  // float32 [steps, P]
};

Reference load_reference() {
  const char* source = std::getenv("PATHGRAD_SOURCE");
  REQUIRE_MESSAGE(source != nullptr, "PATHGRAD_SOURCE is not set (run through meson test)");
  const std::string dir = std::string(source) + "/tests/fixtures/cifar2/";
  return {read_json_file(dir + "config.json"), load_npy(dir + "images.npy"), load_npy(dir + "init.npy"),
          load_npy(dir + "grads.npy"), load_npy(dir + "params_after.npy")};
}

// The network at the fixture's width with its initial parameters, checking names and shapes.
std::unique_ptr<cifar2::ResNet9> reference_net(const Reference& ref) {
  auto net =
      std::make_unique<cifar2::ResNet9>(ref.config.at("width").get<int64_t>(), ref.config.at("classes").get<int64_t>());
  const NamedTensors params = net->named_parameters();
  const nlohmann::json& expected = ref.config.at("parameters");
  REQUIRE(params.size() == expected.size());
  int64_t offset = 0;
  for (size_t k = 0; k < params.size(); ++k) {
    const auto& [name, p] = params[k];
    REQUIRE(name == expected[k].at("name").get<std::string>());
    REQUIRE(p.shape() == expected[k].at("shape").get<Shape>());
    p.copy_(kernel::reshape(kernel::narrow(ref.init, 0, offset, p.numel()), p.shape()));
    offset += p.numel();
  }
  REQUIRE(offset == ref.init.numel());
  return net;
}

// Step s's batch: images float32 [batch, 3, 32, 32], labels int64 [batch].
std::pair<Tensor, Tensor> batch(const Reference& ref, int64_t s) {
  const Tensor x = kernel::narrow(ref.images, 0, s, 1);  // [1, batch, 3, 32, 32]
  const auto labels = ref.config.at("labels").at(s).get<std::vector<int64_t>>();
  return {kernel::reshape(x, {x.size(1), 3, 32, 32}), Tensor::from_vector(labels, {x.size(1)})};
}

// Row s of a [steps, P] reference: [P].
Tensor row(const Tensor& rows, int64_t s) { return kernel::reshape(kernel::narrow(rows, 0, s, 1), {-1}); }

double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::abs(v));
  return m;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// Checks max |pick(p) − reference| of each parameter p against tolerance(k, reference), where
// reference is p's slice of the flat `flat` [P] and k its position.
void check_per_parameter(const NamedTensors& params, const Tensor& flat,
                         const std::function<Tensor(const Tensor&)>& pick,
                         const std::function<double(size_t, const std::vector<double>&)>& tolerance) {
  int64_t offset = 0;
  for (size_t k = 0; k < params.size(); ++k) {
    const auto& [name, p] = params[k];
    const std::vector<double> expected = kernel::narrow(flat, 0, offset, p.numel()).to_vector();
    INFO(name);
    CHECK(max_abs_diff(pick(p).to_vector(), expected) <= tolerance(k, expected));
    offset += p.numel();
  }
}

// The fixture's torch.optim.SGD (coupled weight decay) over `params`.
optim::SGD reference_sgd(const nlohmann::json& o, const NamedTensors& params) {
  return optim::SGD(params, optim::SGDOptions(o.at("lr").get<double>())
                                .momentum(o.at("momentum").get<double>())
                                .dampening(o.at("dampening").get<double>())
                                .weight_decay(o.at("weight_decay").get<double>())
                                .nesterov(o.at("nesterov").get<bool>()));
}

// How far the gradients' differences (at most 8 eps of their term scales) can move each
// parameter: SGD's own recursion run on them, b ← μ·b + tolerance, bound += η·b (dampening 0, no
// Nesterov; weight decay feeds back only λ = 5e-3 of the parameters' tiny differences).
class GradientDrift {
 public:
  GradientDrift(const nlohmann::json& optimizer, size_t n_params)
      : momentum_(optimizer.at("momentum").get<double>()), buffer_(n_params, 0.0), bound_(n_params, 0.0) {
    REQUIRE((optimizer.at("dampening").get<double>() == 0.0 && !optimizer.at("nesterov").get<bool>()));
  }
  void step(double lr, const std::vector<double>& term_scales) {
    for (size_t k = 0; k < bound_.size(); ++k) {
      buffer_[k] = momentum_ * buffer_[k] + kFactor * kEps * term_scales.at(k);
      bound_[k] += lr * buffer_[k];
    }
  }
  double bound(size_t k) const { return bound_.at(k); }

 private:
  double momentum_;
  std::vector<double> buffer_, bound_;
};

void check_loss(const Tensor& loss, double expected) {
  CHECK(std::abs(loss.item() - expected) <= kFactor * kEps * std::abs(expected));
}

}  // namespace

TEST_CASE("cifar2 ResNet9: log-probabilities, loss and gradients match PyTorch 1.13 in float32") {
  const Reference ref = load_reference();
  const auto net = reference_net(ref);
  const auto [x, y] = batch(ref, 0);
  const Tensor log_probs = net->forward(x);  // [batch, 2]
  const Tensor loss = nn::nll_loss(log_probs, y);
  loss.backward();
  std::vector<double> expected;  // [batch · 2]
  for (const auto& r : ref.config.at("log_probs"))
    for (const auto& v : r) expected.push_back(v.get<double>());
  CHECK(max_abs_diff(log_probs.to_vector(), expected) <= kFactor * kEps * max_abs(expected));
  check_loss(loss, ref.config.at("losses").at(0).get<double>());
  const auto scales = ref.config.at("term_scales").at(0).get<std::vector<double>>();
  check_per_parameter(
      net->named_parameters(), ref.grads, [](const Tensor& p) { return p.grad(); },
      [&](size_t k, const std::vector<double>&) { return kFactor * kEps * scales.at(k); });
}

TEST_CASE("cifar2 ResNet9: SGD with the triangle schedule follows PyTorch 1.13's parameters") {
  const Reference ref = load_reference();
  const auto net = reference_net(ref);
  const nlohmann::json& t = ref.config.at("schedule");
  const optim::Optimizer::Schedule triangle = optim::triangle_lr(
      t.at("iters_per_epoch").get<int64_t>(), t.at("epochs").get<int64_t>(), t.at("peak_epoch").get<int64_t>());
  optim::SGD opt = reference_sgd(ref.config.at("optimizer"), net->named_parameters());
  opt.set_schedule(triangle);
  GradientDrift drift(ref.config.at("optimizer"), net->named_parameters().size());
  for (int64_t s = 0; s < ref.config.at("steps").get<int64_t>(); ++s) {
    INFO("step " << s);
    CHECK(triangle(s) == t.at("factors").at(s).get<double>());
    drift.step(opt.scheduled_lr(0), ref.config.at("term_scales").at(s).get<std::vector<double>>());
    const auto [x, y] = batch(ref, s);
    opt.zero_grad();
    const Tensor loss = nn::nll_loss(net->forward(x), y);
    check_loss(loss, ref.config.at("losses").at(s).get<double>());
    loss.backward();
    opt.step();
    check_per_parameter(
        net->named_parameters(), row(ref.params_after, s), [](const Tensor& p) { return p; },
        [&](size_t k, const std::vector<double>& theta) {
          return static_cast<double>(s + 1) * kEps * max_abs(theta) + drift.bound(k);
        });
  }
}
