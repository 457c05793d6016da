// Tests for optim/: update rules against hand-written formulas and PyTorch 1.13, step descriptions
// replayed against the real trajectory, observers, state dicts, clipping, schedules, errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/ops.hpp"
#include "optim/adam.hpp"
#include "optim/clip.hpp"
#include "optim/schedule.hpp"
#include "optim/sgd.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
using namespace pathgrad::optim;

namespace {

constexpr DType F64 = DType::Float64;

Tensor param(const std::vector<double>& values, DType dtype = F64) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())}, dtype).set_requires_grad();
}

void set_grad(const Tensor& p, const std::vector<double>& values) {
  p.set_grad(Tensor::from_vector(values, p.shape(), p.dtype()));
}

// max |a − b| / max |b|, elementwise over two tensors of the same shape.
double rel_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    diff = std::max(diff, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return scale == 0 ? diff : diff / scale;
}

bool bitwise_equal(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || a[i].second.to_vector() != b[i].second.to_vector()) return false;
  return true;
}

NamedTensors snapshot(const NamedTensors& params) {
  NamedTensors out;
  for (const auto& [name, p] : params) out.emplace_back(name, p.detach().clone());
  return out;
}

// ---------------------------------------------------------------- a tiny float64 MLP problem

// fc1 = Linear(3, 4), tanh, fc2 = Linear(4, 2); loss = mean squared error.
NamedTensors make_mlp(uint64_t seed) {
  Generator g(seed);
  return {{"fc1.weight", rand_uniform({4, 3}, -1, 1, g, F64).set_requires_grad()},
          {"fc1.bias", rand_uniform({4}, -0.2, 0.2, g, F64).set_requires_grad()},
          {"fc2.weight", rand_uniform({2, 4}, -1, 1, g, F64).set_requires_grad()},
          {"fc2.bias", rand_uniform({2}, -0.2, 0.2, g, F64).set_requires_grad()}};
}

Tensor mlp_loss(const NamedTensors& p, const Tensor& x, const Tensor& y) {
  Tensor h = tanh(linear(x, p[0].second, p[1].second));
  Tensor d = linear(h, p[2].second, p[3].second) - y;
  return mean(d * d);
}

struct Batch {
  Tensor x, y;
};

// Batches of uneven size, different at every step, so that gradients vary.
std::vector<Batch> make_batches(int steps, uint64_t seed) {
  Generator g(seed);
  std::vector<Batch> batches;
  for (int s = 0; s < steps; ++s) {
    const int64_t b = 1 + s % 4;
    batches.push_back({rand_normal({b, 3}, 0, 1, g, F64), rand_normal({b, 2}, 0, 1, g, F64)});
  }
  return batches;
}

// One configuration under test: how to build the optimizer over the MLP's parameters.
struct Config {
  std::string name;
  std::function<std::unique_ptr<Optimizer>(const NamedTensors&)> make;
};

std::vector<Config> configs() {
  auto sgd = [](SGDOptions o) { return [o](const NamedTensors& p) { return std::make_unique<SGD>(p, o); }; };
  auto adam = [](AdamOptions o) { return [o](const NamedTensors& p) { return std::make_unique<Adam>(p, o); }; };
  auto adamw = [](AdamWOptions o) { return [o](const NamedTensors& p) { return std::make_unique<AdamW>(p, o); }; };
  return {
      {"SGD", sgd(SGDOptions(0.3))},
      {"SGD weight decay", sgd(SGDOptions(0.3).weight_decay(0.05))},
      {"SGD momentum", sgd(SGDOptions(0.1).momentum(0.9))},
      {"SGD momentum dampening", sgd(SGDOptions(0.1).momentum(0.9).dampening(0.3))},
      {"SGD momentum dampening weight decay", sgd(SGDOptions(0.1).momentum(0.8).dampening(0.2).weight_decay(0.05))},
      {"SGD nesterov weight decay", sgd(SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(0.05))},
      {"SGD two groups",
       [](const NamedTensors& p) {
         return std::make_unique<SGD>(
             std::vector<ParamGroup<SGDOptions>>{{{p[0], p[1]}, SGDOptions(0.1).momentum(0.9).weight_decay(0.05)},
                                                 {{p[2], p[3]}, SGDOptions(0.2).momentum(0.5).nesterov(true)}});
       }},
      {"Adam", adam(AdamOptions(0.05))},
      {"Adam weight decay", adam(AdamOptions(0.05).betas(0.8, 0.95).weight_decay(0.05))},
      {"Adam amsgrad weight decay", adam(AdamOptions(0.05).weight_decay(0.05).amsgrad(true))},
      {"AdamW", adamw(AdamWOptions(0.05).weight_decay(0.1))},
      {"AdamW amsgrad", adamw(AdamWOptions(0.05).betas(0.85, 0.9).weight_decay(0.1).amsgrad(true))},
  };
}

// Records what a step description needs to be checked: θ_s before and θ_{s+1} after each step.
struct Recorder : StepObserver {
  std::vector<NamedTensors> before, after;
  std::vector<StepDescription> steps;
  std::vector<double> factors;  // grad_factor() seen by before_step
  void before_step(const Optimizer& opt) override {
    before.push_back(snapshot(opt.named_parameters()));
    factors.push_back(opt.grad_factor());
  }
  void after_step(const Optimizer& opt, const StepDescription& step) override {
    after.push_back(snapshot(opt.named_parameters()));
    steps.push_back(step);
  }
};

constexpr int kSteps = 12;
constexpr double kMaxNorm = 1.6;  // clips about half of the steps

// Trains the MLP for `steps` steps from batches[first]: warm-up + cosine schedule, clipping,
// and at step 5 the last parameter gets no gradient (it is skipped). Returns the unclipped
// gradients of every step.
std::vector<NamedTensors> train(Optimizer& opt, const std::vector<Batch>& batches, int first, int steps) {
  std::vector<NamedTensors> grads;
  const NamedTensors params = opt.named_parameters();
  for (int s = first; s < first + steps; ++s) {
    opt.zero_grad();
    mlp_loss(params, batches[s].x, batches[s].y).backward();
    if (s == 5) params.back().second.set_grad(Tensor());
    NamedTensors g;
    for (const auto& [name, p] : params)
      g.emplace_back(name, p.grad().defined() ? p.grad().clone() : Tensor::zeros(p.shape(), p.dtype()));
    grads.push_back(g);
    clip_grad_norm_(opt, kMaxNorm);
    opt.step();
  }
  return grads;
}

}  // namespace

// ---------------------------------------------------------------- formulas (path-kernel.md §2)

TEST_CASE("SGD with momentum, dampening and weight decay: the first two steps by hand") {
  const double eta = 0.1, mu = 0.9, tau = 0.2, lambda = 0.01;
  for (bool nesterov : {false, true}) {
    const double damp = nesterov ? 0.0 : tau;
    Tensor p = param({0.5, -1.0});
    SGD opt({{"p", p}}, SGDOptions(eta).momentum(mu).dampening(damp).nesterov(nesterov).weight_decay(lambda));
    const double g0[2] = {0.3, 0.2}, g1[2] = {-0.1, 0.4};
    double th[2] = {0.5, -1.0}, buf[2];
    set_grad(p, {g0[0], g0[1]});
    opt.step();
    for (int i = 0; i < 2; ++i) {
      const double d = g0[i] + lambda * th[i];
      buf[i] = d;  // buf_0 = d_0, no dampening
      th[i] -= eta * (nesterov ? d + mu * buf[i] : buf[i]);
    }
    CHECK(rel_diff(p, Tensor::from_vector(std::vector<double>{th[0], th[1]}, {2}, F64)) < 1e-15);
    set_grad(p, {g1[0], g1[1]});
    opt.step();
    for (int i = 0; i < 2; ++i) {
      const double d = g1[i] + lambda * th[i];
      buf[i] = mu * buf[i] + (1 - damp) * d;
      th[i] -= eta * (nesterov ? d + mu * buf[i] : buf[i]);
    }
    CHECK(rel_diff(p, Tensor::from_vector(std::vector<double>{th[0], th[1]}, {2}, F64)) < 1e-15);
    CHECK(opt.steps_taken() == 2);
  }
}

TEST_CASE("Adam (coupled L2) and AdamW (decoupled): the first two steps by hand") {
  const double eta = 0.01, b1 = 0.9, b2 = 0.99, eps = 1e-8, lambda = 0.1;
  for (bool decoupled : {false, true}) {
    for (bool amsgrad : {false, true}) {
      Tensor p = param({0.5, -1.0});
      std::unique_ptr<Optimizer> opt;
      if (decoupled)
        opt = std::make_unique<AdamW>(NamedTensors{{"p", p}},
                                      AdamWOptions(eta).betas(b1, b2).eps(eps).weight_decay(lambda).amsgrad(amsgrad));
      else
        opt = std::make_unique<Adam>(NamedTensors{{"p", p}},
                                     AdamOptions(eta).betas(b1, b2).eps(eps).weight_decay(lambda).amsgrad(amsgrad));
      // The second gradient is much smaller, so that v decreases and AMSGrad's max matters.
      const std::vector<std::vector<double>> grads = {{0.3, -0.2}, {0.01, 0.02}};
      double th[2] = {0.5, -1.0}, m[2] = {0, 0}, v[2] = {0, 0}, vmax[2] = {0, 0};
      for (int k = 1; k <= 2; ++k) {
        set_grad(p, grads[k - 1]);
        opt->step();
        for (int i = 0; i < 2; ++i) {
          double g = grads[k - 1][i];
          if (!decoupled) g += lambda * th[i];
          m[i] = b1 * m[i] + (1 - b1) * g;
          v[i] = b2 * v[i] + (1 - b2) * g * g;
          vmax[i] = std::max(vmax[i], v[i]);
          const double vv = amsgrad ? vmax[i] : v[i];
          const double D = eta / ((1 - std::pow(b1, k)) * (std::sqrt(vv / (1 - std::pow(b2, k))) + eps));
          th[i] = th[i] - (decoupled ? eta * lambda * th[i] : 0.0) - D * m[i];
        }
        INFO("decoupled " << decoupled << " amsgrad " << amsgrad << " step " << k);
        CHECK(rel_diff(p, Tensor::from_vector(std::vector<double>{th[0], th[1]}, {2}, F64)) < 1e-14);
      }
    }
  }
}

TEST_CASE("float32 parameters are updated in place with float32 buffers") {
  Tensor p = param({0.5, -1.0}, DType::Float32), q = param({0.5, -1.0});
  const TensorImpl* identity = &p.impl();
  const void* storage = p.raw_data();
  AdamW opt32({{"p", p}}, AdamWOptions(0.01));
  AdamW opt64({{"p", q}}, AdamWOptions(0.01));
  for (int s = 0; s < 3; ++s) {
    set_grad(p, {0.3 - s, 0.2 * s});
    set_grad(q, {0.3 - s, 0.2 * s});
    opt32.step();
    opt64.step();
  }
  CHECK(&p.impl() == identity);
  CHECK(p.raw_data() == storage);
  CHECK(p.dtype() == DType::Float32);
  CHECK(rel_diff(p, q) < 1e-6);
  for (const auto& [key, t] : opt32.state_dict())
    if (key.rfind("exp_avg", 0) == 0) CHECK(t.dtype() == DType::Float32);
}

// ---------------------------------------------------------------- step descriptions

TEST_CASE("step descriptions replay the trajectory, and observing changes nothing") {
  const std::vector<Batch> batches = make_batches(kSteps, 11);
  for (const Config& config : configs()) {
    INFO(config.name);
    NamedTensors params = make_mlp(7);
    std::unique_ptr<Optimizer> opt = config.make(params);
    opt->set_schedule(warmup_cosine_decay_lr(3, kSteps, 0.1));
    Recorder rec;
    opt->add_observer(&rec);
    const std::vector<NamedTensors> grads = train(*opt, batches, 0, kSteps);
    REQUIRE(rec.steps.size() == static_cast<size_t>(kSteps));

    // b_s = decay·b + grad_scale·g_s;  Δ = buffer_coef ⊙ b + direct_coef ⊙ g + non_data.
    std::vector<Tensor> buffers;
    for (const auto& [name, p] : params) buffers.push_back(Tensor::zeros(p.shape(), F64));
    bool skipped = false;
    for (int s = 0; s < kSteps; ++s) {
      const StepDescription& d = rec.steps[s];
      CHECK(d.step == s);
      REQUIRE(d.params.size() == params.size());
      for (size_t k = 0; k < params.size(); ++k) {
        const ParamStep& ps = d.params[k];
        const auto& [name, p] = params[k];
        CHECK(ps.name == name);
        const Tensor& g = grads[s][k].second;
        buffers[k] = kernel::add(kernel::mul_scalar(buffers[k], ps.buffer_decay), kernel::mul_scalar(g, ps.grad_scale));
        Tensor delta = kernel::add(kernel::mul(ps.buffer_coef.materialize(p.shape(), F64), buffers[k]),
                                   kernel::mul(ps.direct_coef.materialize(p.shape(), F64), g));
        if (ps.non_data.defined()) delta = kernel::add(delta, ps.non_data);
        const Tensor actual = kernel::sub(rec.after[s][k].second, rec.before[s][k].second);
        INFO("step " << s << " parameter " << name);
        if (kernel::amax(kernel::abs(actual)).item() == 0) {
          skipped = true;
          CHECK(kernel::amax(kernel::abs(delta)).item() == 0);
        } else {
          // θ_{s+1} − θ_s is itself only known to an ulp of θ: allow that on top of 1e-14.
          const double scale = kernel::amax(kernel::abs(actual)).item();
          const double ulp =
              std::numeric_limits<double>::epsilon() * kernel::amax(kernel::abs(rec.after[s][k].second)).item();
          CHECK(rel_diff(delta, actual) * scale <= 1e-14 * scale + ulp);
        }
      }
    }
    CHECK(skipped);                                                           // step 5 skipped the last parameter
    CHECK(std::count(rec.factors.begin(), rec.factors.end(), 1.0) > 0);       // steps left unclipped
    CHECK(std::count(rec.factors.begin(), rec.factors.end(), 1.0) < kSteps);  // and clipped ones

    // The same run without an observer follows the same trajectory, bit for bit.
    NamedTensors plain_params = make_mlp(7);
    std::unique_ptr<Optimizer> plain = config.make(plain_params);
    plain->set_schedule(warmup_cosine_decay_lr(3, kSteps, 0.1));
    train(*plain, batches, 0, kSteps);
    CHECK(bitwise_equal(plain_params, rec.after.back()));
    CHECK(bitwise_equal(plain_params, snapshot(params)));
  }
}

TEST_CASE("a step's description folds the clip factor into grad_scale and direct_coef") {
  Tensor p = param({1.0, 2.0});
  SGD opt({{"p", p}}, SGDOptions(0.5));
  Recorder rec;
  opt.add_observer(&rec);
  set_grad(p, {3.0, 4.0});
  const double norm = clip_grad_norm_(opt, 1.0);
  const double c = 1.0 / (5.0 + 1e-6);
  CHECK(norm == doctest::Approx(5.0).epsilon(1e-15));
  CHECK(opt.grad_factor() == doctest::Approx(c).epsilon(1e-15));
  CHECK(p.grad().to_vector()[0] == doctest::Approx(3.0 * c).epsilon(1e-15));
  opt.step();
  CHECK(rec.factors[0] == doctest::Approx(c).epsilon(1e-15));
  CHECK(rec.steps[0].params[0].direct_coef.scale == doctest::Approx(-0.5 * c).epsilon(1e-15));
  CHECK(opt.grad_factor() == 1.0);  // reset by the step

  set_grad(p, {0.3, 0.4});
  CHECK(clip_grad_norm_(opt, 1.0) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(opt.grad_factor() == 1.0);  // below max_norm: untouched
  CHECK(p.grad().to_vector() == std::vector<double>{0.3, 0.4});
  opt.step();
  CHECK(rec.steps[1].params[0].direct_coef.scale == -0.5);
  opt.remove_observer(&rec);
  set_grad(p, {0.3, 0.4});
  opt.step();
  CHECK(rec.steps.size() == 2);  // detached
}

TEST_CASE("Coefficient::materialize") {
  Coefficient scalar{-2.0, Tensor()};
  CHECK(scalar.materialize({2}, F64).to_vector() == std::vector<double>{-2.0, -2.0});
  Coefficient elementwise{0.5, Tensor::from_vector(std::vector<double>{2.0, 4.0}, {2}, F64)};
  CHECK(elementwise.materialize({2}, F64).to_vector() == std::vector<double>{1.0, 2.0});
  CHECK(!elementwise.is_zero());
  CHECK(Coefficient{}.is_zero());
  CHECK_THROWS_AS(elementwise.materialize({3}, F64), std::invalid_argument);
}

// ---------------------------------------------------------------- state dicts

TEST_CASE("state_dict round trip continues bit for bit") {
  const std::vector<Batch> batches = make_batches(kSteps, 13);
  for (const Config& config : configs()) {
    INFO(config.name);
    NamedTensors params = make_mlp(3);
    std::unique_ptr<Optimizer> opt = config.make(params);
    opt->set_schedule(warmup_linear_decay_lr(2, kSteps));
    train(*opt, batches, 0, 6);
    const NamedTensors state = opt->state_dict();
    const NamedTensors at_checkpoint = snapshot(params);
    train(*opt, batches, 6, kSteps - 6);

    NamedTensors resumed = make_mlp(99);  // different values, overwritten from the checkpoint
    for (size_t k = 0; k < resumed.size(); ++k) resumed[k].second.copy_(at_checkpoint[k].second);
    std::unique_ptr<Optimizer> again = config.make(resumed);
    again->load_state_dict(state);
    CHECK(again->steps_taken() == 6);
    CHECK(bitwise_equal(again->state_dict(), state));
    again->set_schedule(warmup_linear_decay_lr(2, kSteps));
    train(*again, batches, 6, kSteps - 6);
    CHECK(bitwise_equal(snapshot(resumed), snapshot(params)));
  }
}

TEST_CASE("load_state_dict reports mismatches and changes nothing") {
  NamedTensors params = make_mlp(5);
  Adam adam(params, AdamOptions(0.01).weight_decay(0.1).amsgrad(true));
  const std::vector<Batch> batches = make_batches(2, 1);
  train(adam, batches, 0, 2);
  const NamedTensors good = adam.state_dict();
  const NamedTensors before = snapshot(good);
  auto with = [&](const std::function<void(NamedTensors&)>& edit) {
    NamedTensors s = snapshot(good);
    edit(s);
    return s;
  };
  using doctest::Contains;
  CHECK_THROWS_WITH_AS(adam.load_state_dict(with([](NamedTensors& s) { s.erase(s.begin() + 1); })),
                       Contains("no entry 'step'"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(adam.load_state_dict(with([](NamedTensors& s) {
    for (auto& [k, t] : s)
      if (k == "exp_avg.fc1.bias") t = Tensor::zeros({5}, F64);
  })),
                       Contains("'exp_avg.fc1.bias' has shape [5]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(adam.load_state_dict(with([](NamedTensors& s) {
    for (auto it = s.begin(); it != s.end(); ++it)
      if (it->first == "max_exp_avg_sq.fc2.weight") {
        s.erase(it);
        break;
      }
  })),
                       Contains("no entry 'max_exp_avg_sq.fc2.weight'"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(adam.load_state_dict(with(
                           [](NamedTensors& s) { s.emplace_back("exp_avg.fc3.weight", Tensor::zeros({1}, F64)); })),
                       Contains("unexpected entries 'exp_avg.fc3.weight'"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(adam.load_state_dict(with([](NamedTensors& s) {
    for (auto& [k, t] : s)
      if (k == "group.0.beta1") t = Tensor::scalar(1.5, F64);
  })),
                       Contains("beta1 must be in [0, 1)"), std::invalid_argument);
  CHECK(bitwise_equal(adam.state_dict(), before));  // nothing changed by the failed loads

  AdamW adamw(make_mlp(5), AdamWOptions(0.01));
  CHECK_THROWS_WITH_AS(adamw.load_state_dict(good), Contains("saved by Adam, not AdamW"), std::invalid_argument);
  NamedTensors renamed = make_mlp(5);
  renamed[0].first = "encoder.weight";
  Adam other(renamed, AdamOptions(0.01));
  CHECK_THROWS_WITH_AS(other.load_state_dict(good), Contains("no entry 'param.encoder.weight'"), std::invalid_argument);
  NamedTensors mlp = make_mlp(5);
  Adam regrouped(
      std::vector<ParamGroup<AdamOptions>>{{{mlp[0], mlp[1], mlp[2]}, AdamOptions()}, {{mlp[3]}, AdamOptions()}});
  CHECK_THROWS_WITH_AS(regrouped.load_state_dict(good), Contains("'fc2.bias' is in group 1 here but in group 0"),
                       std::invalid_argument);
}

TEST_CASE("state_dict holds the documented entries") {
  NamedTensors params = make_mlp(5);
  SGD sgd(params, SGDOptions(0.1).momentum(0.9).weight_decay(0.01));
  CHECK(sgd.state_dict().size() == 2 + 4 + 5);  // optimizer, step, param.*, group.0.* (no buffers yet)
  train(sgd, make_batches(1, 2), 0, 1);
  std::vector<std::string> keys;
  for (const auto& [k, t] : sgd.state_dict()) keys.push_back(k);
  for (const char* k : {"optimizer", "step", "param.fc1.weight", "group.0.lr", "group.0.nesterov",
                        "momentum_buffer.fc2.bias", "momentum_buffer_wd.fc1.weight"})
    CHECK(std::find(keys.begin(), keys.end(), k) != keys.end());
}

// ---------------------------------------------------------------- PyTorch 1.13 reference

namespace {

Tensor from_json(const nlohmann::json& j) {
  return Tensor::from_vector(j.at("values").get<std::vector<double>>(), j.at("shape").get<Shape>(), F64);
}

std::unique_ptr<Optimizer> optimizer_from_json(const nlohmann::json& run, const NamedTensors& params) {
  auto pick = [&](const nlohmann::json& group) {
    NamedTensors out;
    for (const std::string& name : group.at("params").get<std::vector<std::string>>())
      for (const auto& named : params)
        if (named.first == name) out.push_back(named);
    return out;
  };
  const std::string kind = run.at("optimizer").get<std::string>();
  if (kind == "SGD") {
    std::vector<ParamGroup<SGDOptions>> groups;
    for (const auto& g : run.at("groups"))
      groups.push_back({pick(g), SGDOptions(g.at("lr").get<double>())
                                     .momentum(g.value("momentum", 0.0))
                                     .dampening(g.value("dampening", 0.0))
                                     .nesterov(g.value("nesterov", false))
                                     .weight_decay(g.value("weight_decay", 0.0))});
    return std::make_unique<SGD>(groups);
  }
  auto adam_options = [](const nlohmann::json& g, auto options) {
    return options.betas(g.at("betas")[0].get<double>(), g.at("betas")[1].get<double>())
        .eps(g.at("eps").get<double>())
        .weight_decay(g.at("weight_decay").get<double>())
        .amsgrad(g.at("amsgrad").get<bool>());
  };
  if (kind == "Adam") {
    std::vector<ParamGroup<AdamOptions>> groups;
    for (const auto& g : run.at("groups"))
      groups.push_back({pick(g), adam_options(g, AdamOptions(g.at("lr").get<double>()))});
    return std::make_unique<Adam>(groups);
  }
  REQUIRE(kind == "AdamW");
  std::vector<ParamGroup<AdamWOptions>> groups;
  for (const auto& g : run.at("groups"))
    groups.push_back({pick(g), adam_options(g, AdamWOptions(g.at("lr").get<double>()))});
  return std::make_unique<AdamW>(groups);
}

nlohmann::json load_fixture() {
  const char* source = std::getenv("PATHGRAD_SOURCE");
  REQUIRE_MESSAGE(source != nullptr, "PATHGRAD_SOURCE is not set (run through meson test)");
  std::ifstream in(std::string(source) + "/tests/fixtures/optim_reference.json");
  REQUIRE_MESSAGE(in.good(), "cannot open tests/fixtures/optim_reference.json");
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("SGD, Adam and AdamW match PyTorch 1.13 with LambdaLR and clip_grad_norm_") {
  const nlohmann::json fixture = load_fixture();
  const auto factors = fixture.at("schedule_factors").get<std::vector<double>>();
  for (const auto& run : fixture.at("runs")) {
    INFO(run.at("name").get<std::string>());
    NamedTensors params;  // in mlp_loss's order
    for (const char* name : {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"})
      params.emplace_back(name, from_json(fixture.at("init").at(name)).set_requires_grad());
    std::unique_ptr<Optimizer> opt = optimizer_from_json(run, params);
    opt->set_schedule([&factors](int64_t s) { return factors.at(static_cast<size_t>(s)); });
    const double max_norm = run.at("max_norm").get<double>();
    const auto& batches = fixture.at("batches");
    for (size_t s = 0; s < batches.size(); ++s) {
      INFO("step " << s);
      opt->zero_grad();
      mlp_loss(params, from_json(batches[s].at("x")), from_json(batches[s].at("y"))).backward();
      const double norm = clip_grad_norm_(*opt, max_norm);
      CHECK(std::abs(norm - run.at("norms")[s].get<double>()) <= 1e-12 * norm);
      opt->step();
      for (const auto& [name, p] : params) {
        INFO(name);
        CHECK(rel_diff(p, from_json(run.at("params_after")[s].at(name))) < 1e-12);
      }
    }
  }
}

// ---------------------------------------------------------------- schedules

TEST_CASE("schedules' values") {
  CHECK(constant_lr()(0) == 1.0);
  CHECK(constant_lr(0.5)(17) == 0.5);
  auto decay = step_decay_lr(3, 0.5);
  CHECK(decay(0) == 1.0);
  CHECK(decay(2) == 1.0);
  CHECK(decay(3) == 0.5);
  CHECK(decay(7) == 0.25);
  auto linear = warmup_linear_decay_lr(4, 12, 0.1);
  CHECK(linear(0) == 0.0);
  CHECK(linear(2) == 0.5);
  CHECK(linear(4) == 1.0);
  CHECK(linear(8) == doctest::Approx(0.55).epsilon(1e-15));
  CHECK(linear(12) == 0.1);
  CHECK(linear(100) == 0.1);
  auto cosine = warmup_cosine_decay_lr(2, 6);
  CHECK(cosine(1) == 0.5);
  CHECK(cosine(2) == 1.0);
  CHECK(cosine(4) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(cosine(6) == 0.0);
  auto pieces = piecewise_linear_lr({0, 10, 20}, {1, 3, 2});
  CHECK(pieces(5) == 2.0);
  CHECK(pieces(15) == 2.5);
  CHECK(pieces(30) == 2.0);

  // The CIFAR triangle against np.interp, bit for bit.
  const nlohmann::json t = load_fixture().at("triangle");
  auto triangle = triangle_lr(t.at("iters_per_epoch").get<int64_t>(), t.at("epochs").get<int64_t>(),
                              t.at("peak_epoch").get<int64_t>());
  for (const auto& point : t.at("values")) {
    INFO("iteration " << point[0].get<int64_t>());
    CHECK(triangle(point[0].get<int64_t>()) == point[1].get<double>());
  }

  // The schedule multiplies the base lr of every group.
  Tensor p = param({1.0}), q = param({1.0});
  SGD opt(std::vector<ParamGroup<SGDOptions>>{{{{"p", p}}, SGDOptions(0.1)}, {{{"q", q}}, SGDOptions(0.2)}});
  opt.set_schedule(step_decay_lr(1, 0.5));
  set_grad(p, {1.0});
  set_grad(q, {1.0});
  opt.step();
  CHECK(opt.scheduled_lr(0) == 0.05);
  CHECK(opt.scheduled_lr(1) == 0.1);
  CHECK(opt.lr(1) == 0.2);
  opt.step();
  CHECK(p.to_vector()[0] == doctest::Approx(1.0 - 0.1 - 0.05).epsilon(1e-15));
  CHECK(q.to_vector()[0] == doctest::Approx(1.0 - 0.2 - 0.1).epsilon(1e-15));
  opt.set_lr(1.0, 1);
  CHECK(opt.scheduled_lr(1) == 0.25);
  CHECK(opt.options(1).lr() == 1.0);
  CHECK(opt.num_groups() == 2);
  CHECK(opt.group_parameters(1)[0].second.same(q));
  CHECK(opt.named_parameters().size() == 2);
}

// ---------------------------------------------------------------- errors

TEST_CASE("bad input throws, naming what is wrong") {
  using doctest::Contains;
  auto p = [] { return NamedTensors{{"w", param({1.0, 2.0})}}; };
  CHECK_THROWS_WITH_AS(SGD(p(), SGDOptions(-0.1)), Contains("lr must be finite and >= 0, got -0.1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(SGD(p(), SGDOptions(0.1).nesterov(true)), Contains("nesterov requires momentum > 0"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(SGD(p(), SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true)), Contains("dampening 0"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(SGD(p(), SGDOptions(0.1).momentum(-1)), Contains("momentum"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Adam(p(), AdamOptions().betas(1.0, 0.999)), Contains("beta1 must be in [0, 1)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(AdamW(p(), AdamWOptions().betas(0.9, -0.1)), Contains("AdamWOptions: beta2"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Adam(p(), AdamOptions().eps(-1)), Contains("eps"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(AdamW(p(), AdamWOptions().weight_decay(-1)), Contains("weight_decay"), std::invalid_argument);
  CHECK(AdamWOptions().weight_decay() == 1e-2);
  CHECK(AdamOptions().weight_decay() == 0.0);

  Tensor frozen = Tensor::from_vector(std::vector<double>{1.0}, {1}, F64);
  CHECK_THROWS_WITH_AS(SGD({{"frozen", frozen}}, SGDOptions(0.1)), Contains("parameter 'frozen' does not require grad"),
                       std::invalid_argument);
  Tensor w = param({1.0});
  CHECK_THROWS_WITH_AS(SGD({{"a", w}, {"b", w}}, SGDOptions(0.1)), Contains("same tensor"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(SGD({{"a", w}, {"a", param({1.0})}}, SGDOptions(0.1)), Contains("name appears twice"),
                       std::invalid_argument);
  CHECK_THROWS_AS(SGD(NamedTensors{}, SGDOptions(0.1)), std::invalid_argument);

  // A gradient of the wrong shape: nothing moves.
  Tensor a = param({1.0, 2.0}), b = param({3.0});
  SGD opt({{"a", a}, {"b", b}}, SGDOptions(0.1));
  set_grad(a, {1.0, 1.0});
  b.impl().grad = Tensor::zeros({2}, F64).impl_ptr();
  CHECK_THROWS_WITH_AS(opt.step(), Contains("gradient of 'b' has shape [2]"), std::invalid_argument);
  CHECK(a.to_vector() == std::vector<double>{1.0, 2.0});
  CHECK(opt.steps_taken() == 0);
  b.set_grad(Tensor());

  opt.set_schedule([](int64_t) { return std::numeric_limits<double>::quiet_NaN(); });
  CHECK_THROWS_WITH_AS(opt.step(), Contains("schedule returned nan at step 0"), std::invalid_argument);
  opt.set_schedule([](int64_t) { return -1.0; });
  CHECK_THROWS_AS(opt.step(), std::invalid_argument);
  opt.set_schedule(nullptr);
  CHECK_THROWS_WITH_AS(opt.set_lr(-1.0), Contains("lr must be finite and >= 0"), std::invalid_argument);
  CHECK_THROWS_AS(opt.lr(3), std::out_of_range);
  CHECK_THROWS_WITH_AS(clip_grad_norm_(opt, 0.0), Contains("max_norm"), std::invalid_argument);
  set_grad(a, {std::numeric_limits<double>::infinity(), 1.0});
  CHECK_THROWS_WITH_AS(clip_grad_norm_(opt, 1.0), Contains("non-finite"), std::invalid_argument);
  CHECK_THROWS_AS(opt.scale_grads(-1.0), std::invalid_argument);

  Recorder rec;
  CHECK_THROWS_AS(opt.add_observer(nullptr), std::invalid_argument);
  opt.add_observer(&rec);
  CHECK_THROWS_AS(opt.add_observer(&rec), std::invalid_argument);
  opt.remove_observer(&rec);
  CHECK_THROWS_AS(opt.remove_observer(&rec), std::invalid_argument);

  CHECK_THROWS_AS(step_decay_lr(0, 0.5), std::invalid_argument);
  CHECK_THROWS_AS(warmup_linear_decay_lr(5, 5), std::invalid_argument);
  CHECK_THROWS_AS(warmup_cosine_decay_lr(1, 5, 1.5), std::invalid_argument);
  CHECK_THROWS_AS(piecewise_linear_lr({0, 0}, {1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(piecewise_linear_lr({0, 1}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(triangle_lr(10, 5, 5), std::invalid_argument);
  CHECK_THROWS_AS(constant_lr()(-1), std::invalid_argument);
}
