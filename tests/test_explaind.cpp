// Tests for explaind/: quadrature rules, and the tracker's exactness in float64 (path-kernel.md §6):
// replica = model, all marginals agree, attaching a tracker leaves the trajectory unchanged,
// and a brute-force recomputation from the stored trajectory agrees with the online numbers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>

#include "autograd/ops.hpp"
#include "explaind/exports.hpp"
#include "explaind/tracker.hpp"
#include "nn/conv.hpp"
#include "nn/data/dataset.hpp"
#include "nn/init.hpp"
#include "nn/linear.hpp"
#include "nn/loss.hpp"
#include "optim/adam.hpp"
#include "optim/checkpoint.hpp"
#include "optim/clip.hpp"
#include "optim/schedule.hpp"
#include "optim/sgd.hpp"
#include "tensor/json_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/npy.hpp"
#include "tensor/parallel.hpp"
#include "tensor/random.hpp"
#include "tensor/safetensors.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;
namespace ex = pathgrad::explaind;

// ------------------------------------------------------------------ quadrature
TEST_CASE("quadrature rules integrate polynomials exactly up to their degree") {
  std::vector<ex::QuadratureRule> rules = {ex::midpoint(1),       ex::midpoint(7),       ex::trapezoid(),
                                           ex::simpson(),         ex::gauss_legendre(1), ex::gauss_legendre(4),
                                           ex::gauss_legendre(9), ex::gauss_lobatto(2),  ex::gauss_lobatto(5)};
  for (const ex::QuadratureRule& r : rules) {
    double wsum = 0;
    for (double w : r.weights) wsum += w;
    CHECK(std::abs(wsum - 1.0) < 1e-14);
    for (int deg = 0; deg <= r.exact_degree + 1; ++deg) {
      double q = 0;
      for (size_t i = 0; i < r.nodes.size(); ++i) q += r.weights[i] * std::pow(r.nodes[i], deg);
      const double exact = 1.0 / (deg + 1);
      INFO(r.name << " degree " << deg);
      if (deg <= r.exact_degree)
        CHECK(std::abs(q - exact) < 1e-13);
      else
        CHECK(std::abs(q - exact) > 1e-13);  // one degree more is not exact
    }
  }
}

TEST_CASE("composite quadrature converges at the rule's order") {
  // ∫₀¹ e^t dt on n pieces: error ~ n^-(degree+1).
  auto composite = [](const ex::QuadratureRule& r, int n) {
    double s = 0;
    for (int k = 0; k < n; ++k) {
      const ex::QuadratureRule p = r.on(static_cast<double>(k) / n, static_cast<double>(k + 1) / n);
      for (size_t i = 0; i < p.nodes.size(); ++i) s += p.weights[i] * std::exp(p.nodes[i]);
    }
    return std::abs(s - (std::exp(1.0) - 1.0));
  };
  for (auto [rule, order] : std::vector<std::pair<ex::QuadratureRule, double>>{
           {ex::midpoint(1), 2}, {ex::trapezoid(), 2}, {ex::simpson(), 4}, {ex::gauss_legendre(2), 4}}) {
    const double ratio = composite(rule, 4) / composite(rule, 8);
    INFO(rule.name);
    CHECK(std::abs(std::log2(ratio) - order) < 0.15);
  }
  CHECK_THROWS_AS(ex::parse_rule("simpson:3"), std::invalid_argument);
  CHECK(ex::parse_rule("gauss_legendre:3").nodes.size() == 3);
}

// ------------------------------------------------------------------ tracker fixtures
namespace {

// A small classifier: 3 -> 6 -> 3 log-probabilities, smooth (tanh) or with kinks (ReLU).
struct Mlp : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2;
  bool use_relu;
  explicit Mlp(bool relu_activation) : use_relu(relu_activation) {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(3, 6));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(6, 3));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = fc1->forward(x);
    return log_softmax(fc2->forward(use_relu ? relu(h) : tanh(h)), 1);
  }
};

std::unique_ptr<Mlp> make_model(uint64_t seed, bool relu_activation = false) {
  nn::manual_seed(seed);
  auto m = std::make_unique<Mlp>(relu_activation);
  m->to(DType::Float64);
  return m;
}

Tensor per_sample_nll(const Tensor& out, const Tensor& y) { return nn::nll_loss(out, y, nn::Reduction::None); }

struct Problem {
  Tensor x, y, probe_x, probe_y;
  Problem() {
    Generator g(123);
    x = rand_normal({11, 3}, 0, 1, g, DType::Float64);
    y = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1}, {11});
    probe_x = rand_normal({4, 3}, 0, 1, g, DType::Float64);
    probe_y = Tensor::from_vector(std::vector<int64_t>{2, 0, 1, 1}, {4});
  }
};

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(const NamedTensors&)>;

// Trains `steps` steps on minibatches of 4 (the last of each epoch has 3), with an optional
// tracker; returns the final parameters.
struct RunResult {
  NamedTensors params;
  ex::Summary summary;
  std::unique_ptr<Mlp> model;
};

// The tracker runs the sample level with all combinations, or (sample_level = false) only the
// parameter-wise influence of the sample-level probes.
RunResult train(const MakeOptimizer& make, int steps, bool track, const std::string& dir, bool clip = false,
                ex::TrackerOptions options = ex::TrackerOptions(), bool relu_activation = false,
                bool sample_level = true) {
  Problem pb;
  auto model = make_model(7, relu_activation);
  nn::data::TensorDataset ds(pb.x, pb.y);
  nn::data::DataLoader loader(ds, nn::data::DataLoaderOptions(4).shuffle(true).seed(3));
  std::unique_ptr<optim::Optimizer> opt = make(model->named_parameters());
  std::unique_ptr<ex::Tracker> tracker;
  if (track) {
    ex::ProbeSet probes;
    probes.name = "probes";
    probes.x = pb.probe_x;
    probes.y = pb.probe_y;
    probes.weightings = {ex::OutputWeighting::label(), ex::OutputWeighting::all_outputs()};
    probes.sample_level = true;
    tracker = std::make_unique<ex::Tracker>(*model, *opt, loader, per_sample_nll, std::vector<ex::ProbeSet>{probes},
                                            sample_level ? options.output_dir(dir).per_sample(true).combinations(true)
                                                         : options.output_dir(dir).parameter_wise(true));
  }
  for (int s = 0; s < steps; ++s) {
    const nn::data::Batch& b = loader.next();
    opt->zero_grad();
    nn::nll_loss(model->forward(b.x), b.y).backward();
    if (clip) optim::clip_grad_norm_(*opt, 0.05);
    opt->step();
  }
  RunResult r;
  if (tracker) r.summary = tracker->finish();
  for (const auto& [n, p] : model->named_parameters()) r.params.emplace_back(n, p.clone());
  r.model = std::move(model);
  return r;
}

std::string temp_dir(const std::string& name) {
  const auto d = std::filesystem::temp_directory_path() / ("pathgrad_test_explaind_" + name);
  std::filesystem::remove_all(d);
  return d.string();
}

struct OptimizerCase {
  std::string name;
  MakeOptimizer make;
  bool clip;
};

std::vector<OptimizerCase> optimizer_cases() {
  return {
      {"sgd", [](const NamedTensors& p) { return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.3)); }, false},
      {"sgd_momentum_nesterov_decay_schedule",
       [](const NamedTensors& p) {
         auto o =
             std::make_unique<optim::SGD>(p, optim::SGDOptions(0.2).momentum(0.9).nesterov(true).weight_decay(0.01));
         o->set_schedule(optim::warmup_cosine_decay_lr(2, 9));
         return o;
       },
       true},
      {"sgd_momentum_dampening",
       [](const NamedTensors& p) {
         return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.2).momentum(0.8).dampening(0.3).weight_decay(0.05));
       },
       false},
      {"adam_coupled_decay_amsgrad",
       [](const NamedTensors& p) {
         return std::make_unique<optim::Adam>(p, optim::Adam::Options(0.05).weight_decay(0.1).amsgrad(true));
       },
       false},
      {"adamw_schedule_clip",
       [](const NamedTensors& p) {
         auto o = std::make_unique<optim::AdamW>(p, optim::AdamW::Options(0.05).betas(0.9, 0.98).weight_decay(0.5));
         o->set_schedule(optim::step_decay_lr(3, 0.5));
         return o;
       },
       true},
  };
}

// Builds a tracker of SGD on the small problem with one probe set that is not sample-level, and
// drops it: for the constructor's checks.
void build_tracker(const ex::TrackerOptions& options) {
  Problem pb;
  auto model = make_model(7);
  nn::data::TensorDataset ds(pb.x, pb.y);
  nn::data::DataLoader loader(ds, nn::data::DataLoaderOptions(4));
  optim::SGD opt(model->named_parameters(), optim::SGDOptions(0.1));
  ex::ProbeSet probes;
  probes.x = pb.probe_x;
  probes.y = pb.probe_y;
  ex::Tracker tracker(*model, opt, loader, per_sample_nll, {probes}, options);
}

}  // namespace

TEST_CASE("the tracker's replica and marginals are exact in float64 for every optimizer") {
  for (const OptimizerCase& c : optimizer_cases()) {
    INFO(c.name);
    const std::string dir = temp_dir(c.name);
    RunResult tracked = train(c.make, 9, true, dir, c.clip,
                              ex::TrackerOptions().rule(ex::gauss_legendre(4)).tolerance(1e-13).window(4));
    const ex::Summary& s = tracked.summary;
    CHECK(s.steps == 9);
    CHECK(s.replica_max_abs_error < 1e-10);
    CHECK(s.marginal_mismatch < 1e-10);
    CHECK(s.linear_form_mismatch < 1e-9);
    CHECK(s.argmax_agreement == 1.0);
    CHECK(s.mean_kl < 1e-12);
    for (const char* f : {"manifest.json", "summary.json", "replica.npy", "step_influence.npy", "residuals.npy",
                          "component_window_data.npy", "sample_data.npy", "sample_window_data.npy",
                          "sample_component_data.npy", "parameter_data.npy"})
      CHECK(std::filesystem::exists(std::filesystem::path(dir) / f));
    // The most tensor memory of a tracked step, measured, holds at least the per-sample buffers
    // (live through every step), and summary.json carries it.
    const ex::Summary saved = ex::read_summary(dir);
    const double buffer_bytes = read_json_file(dir + "/summary.json")["cost_estimate"]["buffer_bytes"].get<double>();
    CHECK(buffer_bytes > 0);
    CHECK(s.peak_tensor_bytes >= buffer_bytes);
    CHECK(saved.peak_tensor_bytes == s.peak_tensor_bytes);
    CHECK(saved.forward_evaluations == s.forward_evaluations);

    // Attaching the tracker does not change the trajectory by a single bit.
    RunResult plain = train(c.make, 9, false, dir, c.clip);
    for (size_t i = 0; i < plain.params.size(); ++i)
      CHECK(K::amax(K::abs(K::sub(plain.params[i].second, tracked.params[i].second))).item() == 0.0);
  }
}

TEST_CASE("the parameter-wise influence needs no sample level and adds up to the probes' change") {
  const MakeOptimizer make = optimizer_cases().back().make;  // AdamW, schedule, clipping
  const ex::TrackerOptions options = ex::TrackerOptions().rule(ex::gauss_legendre(4)).tolerance(1e-13).window(4);
  const std::string full = temp_dir("param_full"), cheap = temp_dir("param_only");
  train(make, 9, true, full, true, options);
  const ex::Summary s = train(make, 9, true, cheap, true, options, false, false).summary;
  CHECK(s.replica_max_abs_error < 1e-10);
  CHECK_FALSE(std::filesystem::exists(std::filesystem::path(cheap) / "sample_data.npy"));
  for (const char* name : {"parameter_data.npy", "parameter_decay.npy", "parameter_window_data.npy"}) {
    INFO(name);
    const Tensor a = load_npy(full + "/" + name), b = load_npy(cheap + "/" + name);
    REQUIRE(a.shape() == b.shape());
    CHECK(K::amax(K::abs(K::sub(a, b))).item() == 0.0);
  }
  // Σ over parameters of the data and decay parts = the probes' total change minus residuals.
  const Tensor per_param = K::add(K::sum(load_npy(cheap + "/parameter_data.npy"), {1}),
                                  K::sum(load_npy(cheap + "/parameter_decay.npy"), {1}));  // [M_s]
  const Tensor change = K::sub(K::sub(load_npy(cheap + "/real_outputs.npy"), load_npy(cheap + "/initial_outputs.npy")),
                               load_npy(cheap + "/residual_sum.npy"));  // [M], sample-level rows first
  REQUIRE(per_param.numel() == change.numel());                         // every probe set of train() is sample-level
  const Tensor moved = K::sub(load_npy(cheap + "/real_outputs.npy"), load_npy(cheap + "/initial_outputs.npy"));
  CHECK(s.change_scale == doctest::Approx(K::mean(K::abs(moved)).item()).epsilon(1e-12));
  CHECK(s.change_scale > 0.01);
  CHECK(K::amax(K::abs(K::sub(per_param, change))).item() < 1e-10);
  // The windows add up to the total.
  const Tensor windows = K::sum(load_npy(cheap + "/parameter_window_data.npy"), {0});
  CHECK(K::amax(K::abs(K::sub(windows, load_npy(cheap + "/parameter_data.npy")))).item() < 1e-12);
  CHECK_THROWS_WITH_AS(build_tracker(ex::TrackerOptions().output_dir(temp_dir("param_none")).parameter_wise(true)),
                       "Tracker: parameter_wise(true) needs a probe set with sample_level = true",
                       std::invalid_argument);
}

TEST_CASE("the tracker refuses a reduction that is no training loss's (None)") {
  CHECK_THROWS_WITH_AS(
      build_tracker(ex::TrackerOptions().output_dir(temp_dir("reduction_none")).reduction(nn::Reduction::None)),
      "Tracker: reduction() must be the training loss's, Mean or Sum (not None)", std::invalid_argument);
}

TEST_CASE("the tracker refuses probe chunks of no rows") {
  CHECK_THROWS_WITH_AS(build_tracker(ex::TrackerOptions().output_dir(temp_dir("chunk_zero")).probe_chunk_size(0)),
                       "PathKernel: probe_chunk_size() must be positive, not 0", std::invalid_argument);
}

TEST_CASE("without refinement, a sample-level set's dots come from its full gradients: same numbers, one pass") {
  // Two trackers of the same ReLU run on the same probes, integrated on fixed pieces: the cheap
  // level contracts φ̂ with the directions inside the backward pass; the parameter-wise level
  // forms φ̂ in full once and contracts it afterwards. Both sum the same float64 products in
  // another order, so they agree to float64 rounding of sums of O(1) terms (1e-12 absolute).
  auto run = [](bool sample_level, const std::string& dir) {
    Problem pb;
    auto model = make_model(7, true);
    nn::data::TensorDataset ds(pb.x, pb.y);
    nn::data::DataLoader loader(ds, nn::data::DataLoaderOptions(4).shuffle(true).seed(3));
    optim::SGD opt(model->named_parameters(), optim::SGDOptions(0.3).momentum(0.9).weight_decay(0.05));
    ex::ProbeSet probes;
    probes.x = pb.probe_x;
    probes.y = pb.probe_y;
    probes.weightings = {ex::OutputWeighting::all_outputs()};
    probes.sample_level = sample_level;
    const ex::TrackerOptions options = ex::TrackerOptions()
                                           .output_dir(dir)
                                           .rule(ex::gauss_legendre(2))
                                           .pieces(3)
                                           .adaptive(false)
                                           .kink_aware(false)
                                           .window(4);
    ex::Tracker tracker(
        *model, opt, loader, per_sample_nll, {probes},
        sample_level ? ex::TrackerOptions(options).parameter_wise(true).parameter_windows(false) : options);
    for (int s = 0; s < 7; ++s) {
      const nn::data::Batch& b = loader.next();
      opt.zero_grad();
      nn::nll_loss(model->forward(b.x), b.y).backward();
      opt.step();
    }
    return tracker.finish();
  };
  const std::string cheap = temp_dir("dots_contracted"), full = temp_dir("dots_from_gradients");
  const ex::Summary a = run(false, cheap), b = run(true, full);
  CHECK(a.gradient_evaluations == b.gradient_evaluations);
  CHECK(a.replica_max_abs_error > 1e-6);  // fixed pieces across ReLU kinks: a visible residual ...
  for (const char* name : {"step_influence.npy", "component_data.npy", "component_decay.npy", "data_total.npy",
                           "decay_total.npy", "residuals.npy"}) {
    INFO(name);  // ... which both compute alike
    CHECK(K::amax(K::abs(K::sub(load_npy(cheap + "/" + name), load_npy(full + "/" + name)))).item() < 1e-12);
  }
  CHECK_FALSE(std::filesystem::exists(std::filesystem::path(full) / "parameter_window_data.npy"));
  const Tensor per_param =
      K::add(K::sum(load_npy(full + "/parameter_data.npy"), {1}), K::sum(load_npy(full + "/parameter_decay.npy"), {1}));
  const Tensor total = K::add(load_npy(full + "/data_total.npy"), load_npy(full + "/decay_total.npy"));
  CHECK(K::amax(K::abs(K::sub(per_param, total))).item() < 1e-12);
}

TEST_CASE("a float32 model on float32 inputs is tracked through a float64 probe model") {
  Problem pb;
  nn::manual_seed(7);
  Mlp model(false);  // float32
  auto twin = make_model(7);
  const Tensor x = pb.x.to(DType::Float32);
  nn::data::TensorDataset ds(x, pb.y);
  nn::data::DataLoader loader(ds, nn::data::DataLoaderOptions(4).shuffle(true).seed(3));
  optim::AdamW opt(model.named_parameters(), optim::AdamW::Options(0.05).weight_decay(0.5));
  ex::ProbeSet probes;
  probes.x = pb.probe_x.to(DType::Float32);
  probes.y = pb.probe_y;
  probes.weightings = {ex::OutputWeighting::label(), ex::OutputWeighting::all_outputs()};
  probes.sample_level = true;
  ex::Tracker tracker(model, opt, loader, per_sample_nll, {probes},
                      ex::TrackerOptions()
                          .output_dir(temp_dir("float32"))
                          .per_sample(true)
                          .probe_model(twin.get())
                          .rule(ex::gauss_legendre(4))
                          .tolerance(1e-13));
  for (int s = 0; s < 9; ++s) {
    const nn::data::Batch& b = loader.next();
    opt.zero_grad();
    nn::nll_loss(model.forward(b.x), b.y).backward();
    opt.step();
  }
  const ex::Summary s = tracker.finish();
  // The float32 trajectory is exact in float64: the replica is exact up to float64 rounding. The
  // samples' shares (float64 per-sample gradients) reproduce the float32 update only to float32
  // rounding, and so does the sample marginal.
  CHECK(s.replica_max_abs_error < 1e-10);
  CHECK(s.linear_form_mismatch < 1e-5);
  CHECK(s.marginal_mismatch < 1e-5);
  CHECK(s.marginal_mismatch > 1e-12);  // float32 rounding is visible: the data really were float32
  CHECK(s.argmax_agreement == 1.0);
}

TEST_CASE("the sample level stops a run whose tracker loss is not the one trained on") {
  // The tracker is told the loss is 1.5 × the NLL: its shares are 1.5 × the real ones, a gap of
  // a third of the data part, far over either tolerance (1e-6 in float64, 1e-3 in float32).
  const auto wrong_loss = [](const Tensor& out, const Tensor& y) { return per_sample_nll(out, y) * 1.5; };
  for (const bool float32 : {false, true}) {
    INFO("float32 training: " << float32);
    Problem pb;
    nn::manual_seed(7);
    Mlp model(false);
    if (!float32) model.to(DType::Float64);
    auto twin = make_model(7);
    nn::data::TensorDataset ds(float32 ? pb.x.to(DType::Float32) : pb.x, pb.y);
    nn::data::DataLoader loader(ds, nn::data::DataLoaderOptions(4).shuffle(true).seed(3));
    optim::SGD opt(model.named_parameters(), optim::SGDOptions(0.1).momentum(0.9));
    ex::ProbeSet probes;
    probes.x = float32 ? pb.probe_x.to(DType::Float32) : pb.probe_x;
    probes.y = pb.probe_y;
    probes.sample_level = true;
    ex::Tracker tracker(
        model, opt, loader, wrong_loss, {probes},
        ex::TrackerOptions().output_dir(temp_dir("wrong_loss")).per_sample(true).probe_model(twin.get()));
    auto train_step = [&] {
      const nn::data::Batch& b = loader.next();
      opt.zero_grad();
      nn::nll_loss(model.forward(b.x), b.y).backward();
      opt.step();
    };
    CHECK_THROWS_WITH_AS(train_step(), doctest::Contains("shares add up to the data part"), std::runtime_error);
  }
}

TEST_CASE("kink-aware integration makes the replica of a ReLU model exact") {
  MakeOptimizer make = [](const NamedTensors& p) {
    return std::make_unique<optim::AdamW>(p, optim::AdamW::Options(0.2).weight_decay(0.1));
  };
  auto run = [&](bool kinks, bool adaptive, bool fractions) {
    return train(make, 8, true, temp_dir(kinks ? "relu_kinks" : "relu_plain"), false,
                 ex::TrackerOptions()
                     .rule(ex::gauss_legendre(2))
                     .kink_aware(kinks)
                     .adaptive(adaptive)
                     .active_fractions(fractions)
                     .tolerance(1e-12),
                 true)
        .summary;
  };
  const ex::Summary plain = run(false, false, false), exact = run(true, true, true);
  MESSAGE("ReLU MLP, Gauss-Legendre(2): replica error " << plain.replica_max_abs_error << " without kink splitting, "
                                                        << exact.replica_max_abs_error << " with it");
  CHECK(plain.replica_max_abs_error > 1e-6);   // the kinks matter in this problem ...
  CHECK(exact.replica_max_abs_error < 1e-10);  // ... and splitting at them removes the error
  CHECK(exact.marginal_mismatch < 1e-10);
  CHECK(exact.linear_form_mismatch < 1e-9);
  // Rules with nodes at a piece's ends (Simpson, Gauss-Lobatto) take the one-sided derivative at
  // the located crossings, so they are exact on the pieces too.
  for (const ex::QuadratureRule& rule : {ex::simpson(), ex::gauss_lobatto(4)}) {
    INFO(rule.name);
    const ex::Summary s =
        train(make, 8, true, temp_dir("relu_ends"), false, ex::TrackerOptions().rule(rule).tolerance(1e-12), true)
            .summary;
    CHECK(s.replica_max_abs_error < 1e-10);
  }
}

namespace {
// A small CNN with every kind of switch: conv 1→4, ReLU, max-pool 2, conv 4→4, ReLU, global
// max-pool, linear 4→3, log-softmax; on [N, 1, 8, 8] images, float64.
struct SmallCnn : nn::Module {
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::Linear> fc;
  SmallCnn() {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 4, 3).padding(1)));
    conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(nn::Conv2dOptions(4, 4, 3).padding(1)));
    fc = register_module("fc", std::make_shared<nn::Linear>(4, 3));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = max_pool2d(relu(conv1->forward(x)), 2);              // [N, 4, 4, 4]
    const Tensor g = adaptive_max_pool2d(relu(conv2->forward(h)), 1, 1);  // [N, 4, 1, 1]
    return log_softmax(fc->forward(reshape(g, {g.size(0), 4})), 1);       // [N, 3]
  }
};

// An SGD run of the small CNN (8 steps) with a tracker of `options` on `probe_images` probe images
// (sample level when `sample_level`), exports in temp_dir(dir); its summary.
ex::Summary track_cnn(ex::TrackerOptions options, bool sample_level = false, int64_t probe_images = 6,
                      const std::string& dir = "cnn_tracked") {
  nn::manual_seed(5);
  SmallCnn model;
  model.to(DType::Float64);
  Generator g(9);
  const Tensor x = rand_normal({16, 1, 8, 8}, 0, 1, g, DType::Float64);
  const Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0}, {16});
  nn::data::TensorDataset ds(x, y);
  nn::data::DataLoader loader(ds, nn::data::DataLoaderOptions(8).shuffle(true).seed(2));
  optim::SGD opt(model.named_parameters(), optim::SGDOptions(0.3).momentum(0.9));
  ex::ProbeSet probes;
  probes.name = "probes";
  probes.x = rand_normal({probe_images, 1, 8, 8}, 0, 1, g, DType::Float64);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < probe_images; ++i) labels.push_back(i % 3);
  probes.y = Tensor::from_vector(labels, {probe_images});
  probes.weightings = {ex::OutputWeighting::all_outputs()};
  probes.sample_level = sample_level;
  ex::Tracker tracker(model, opt, loader, per_sample_nll, {probes},
                      options.rule(ex::gauss_legendre(2)).per_sample(sample_level).output_dir(temp_dir(dir)));
  for (int s = 0; s < 8; ++s) {
    const nn::data::Batch& b = loader.next();
    opt.zero_grad();
    nn::nll_loss(model.forward(b.x), b.y).backward();
    opt.step();
  }
  return tracker.finish();
}

// The largest per-step |ρ| of the small CNN tracked on `pieces` equal pieces per step with
// Gauss–Legendre(2), without kink location or refinement.
double cnn_residual(int64_t pieces, bool fractions) {
  return track_cnn(ex::TrackerOptions().kink_aware(false).pieces(pieces).adaptive(false).active_fractions(fractions))
      .residual_max;
}
}  // namespace

TEST_CASE("active fractions make a CNN's switches a second-order error of the piece width") {
  // With ReLU units and max-pool windows switching inside a piece, a rule's error is about
  // (jump) × (piece width): halving the pieces halves it. Active fractions remove the first-order
  // part: the error falls with the square of the width, and is far smaller at every width.
  const double plain1 = cnn_residual(1, false), plain4 = cnn_residual(4, false);
  const double frac1 = cnn_residual(1, true), frac4 = cnn_residual(4, true);
  MESSAGE("small CNN, largest per-step residual: plain " << plain1 << " (1 piece), " << plain4 << " (4 pieces); "
                                                         << "active fractions " << frac1 << ", " << frac4);
  CHECK(plain1 / plain4 < 8);  // first order: about 4 for 4× narrower pieces
  CHECK(frac1 / frac4 > 8);    // second order: about 16
  CHECK(frac4 < plain4 / 10);
}

TEST_CASE("Richardson extrapolation of halved CNN pieces meets the tolerance with fewer evaluations, exactly split") {
  // Active fractions leave an O(h²) error per piece, so (4·(halves) − piece) / 3 cancels its
  // leading term; a combination is accepted only when its own residual — known exactly from the
  // forward passes at the piece's ends — is within tolerance·(b − a). Every step therefore meets
  // the tolerance as without extrapolation, and the sample level, formed from the same weighted
  // pieces, still adds up to the data part (float64: 1e-10).
  const ex::TrackerOptions options = ex::TrackerOptions().kink_aware(false).tolerance(1e-6).max_depth(10);
  const ex::Summary plain = track_cnn(ex::TrackerOptions(options), true);
  const ex::Summary extrapolated = track_cnn(ex::TrackerOptions(options).extrapolate(true), true);
  MESSAGE("small CNN to 1e-6 per step: " << plain.gradient_evaluations << " evaluations, largest residual "
                                         << plain.residual_max << "; extrapolated " << extrapolated.gradient_evaluations
                                         << ", " << extrapolated.residual_max);
  for (const ex::Summary* s : {&plain, &extrapolated}) {
    CHECK(s->deepest_refinement < 10);
    CHECK(s->residual_max <= 1e-6);
    CHECK(s->marginal_mismatch < 1e-10);
    CHECK(s->linear_form_mismatch < 1e-10);
  }
  CHECK(extrapolated.gradient_evaluations < plain.gradient_evaluations);
}

TEST_CASE("the tracker's probe passes split over two threads give the one-thread results") {
  // Probe rows run as whole passes, one part of the rows per thread: the crossing search's and the
  // piece ends' forward rows, the pieces' contracted dots and the sample level's full gradients.
  // Only which rows share a matrix product changes, and with it OpenBLAS's choice of kernel: the
  // exports agree to float64 rounding (1e-12 of each export's scale: sums of a few hundred terms).
  const int threads = num_threads();
  const ex::TrackerOptions options = ex::TrackerOptions().probe_chunk_size(64).tolerance(1e-8);
  set_num_threads(1);
  const ex::Summary one = track_cnn(ex::TrackerOptions(options), true, 24, "cnn_one_thread");
  set_num_threads(2);
  const ex::Summary two = track_cnn(ex::TrackerOptions(options), true, 24, "cnn_two_threads");
  set_num_threads(threads);
  CHECK(one.gradient_evaluations == two.gradient_evaluations);
  CHECK(one.forward_evaluations > 0);  // the CNN's crossings are searched for (how many rows that
  CHECK(two.forward_evaluations > 0);  // takes may change with rounding, so the counts are not compared)
  for (const char* f :
       {"replica.npy", "step_influence.npy", "residuals.npy", "sample_data.npy", "component_data.npy"}) {
    INFO(f);
    auto exported = [f](const std::string& dir) {  // not temp_dir(dir): that clears it
      return load_npy((std::filesystem::temp_directory_path() / ("pathgrad_test_explaind_" + dir) / f).string());
    };
    const Tensor a = exported("cnn_one_thread"), b = exported("cnn_two_threads");
    REQUIRE(a.shape() == b.shape());
    const double scale = std::max(1.0, kernel::amax(kernel::abs(a)).item());
    CHECK(kernel::amax(kernel::abs(kernel::sub(a, b))).item() <= 1e-12 * scale);
  }
}

TEST_CASE("brute force from the stored trajectory agrees with the online sample-wise influence (AdamW)") {
  const double lr = 0.05, b1 = 0.9, b2 = 0.98, eps = 1e-8, wd = 0.5;
  const int steps = 6;
  MakeOptimizer make = [&](const NamedTensors& p) {
    return std::make_unique<optim::AdamW>(p, optim::AdamW::Options(lr).betas(b1, b2).eps(eps).weight_decay(wd));
  };
  const std::string dir = temp_dir("brute_force");
  RunResult tracked =
      train(make, steps, true, dir, false, ex::TrackerOptions().rule(ex::gauss_legendre(4)).tolerance(1e-13));
  const Tensor online = load_npy(dir + "/sample_data.npy");  // [M_s, N]
  const Tensor online_decay = load_npy(dir + "/sample_decay.npy");

  // Store the trajectory and the batches of a plain run (the same trajectory, tested above).
  Problem pb;
  auto model = make_model(7);
  nn::data::TensorDataset ds(pb.x, pb.y);
  nn::data::DataLoader loader(ds, nn::data::DataLoaderOptions(4).shuffle(true).seed(3));
  auto opt = make(model->named_parameters());
  const NamedTensors params = model->named_parameters();
  const ex::ParamLayout layout(params);
  std::vector<Tensor> theta{layout.flatten(params)};
  std::vector<Tensor> batch_ids;
  for (int s = 0; s < steps; ++s) {
    const nn::data::Batch& b = loader.next();
    batch_ids.push_back(b.ids.clone());
    opt->zero_grad();
    nn::nll_loss(model->forward(b.x), b.y).backward();
    opt->step();
    theta.push_back(layout.flatten(params));
  }
  std::vector<Tensor> leaves;
  for (const auto& [n, p] : params) leaves.push_back(p);
  auto flat_grad = [&](const Tensor& scalar) {
    std::vector<Tensor> g = grad({scalar}, leaves, {}, true);
    Tensor out = Tensor::zeros({layout.size()}, DType::Float64);
    for (size_t p = 0; p < g.size(); ++p) layout.segment(out, static_cast<int64_t>(p)).copy_(K::reshape(g[p], {-1}));
    return out;
  };
  // The probe scalars of the sample level: per probe input, label then outputs 0..2.
  auto probe_scalars = [&]() {
    Tensor out = model->forward(pb.probe_x);  // [4, 3]
    std::vector<Tensor> f;
    for (int64_t j = 0; j < 4; ++j) {
      f.push_back(select(select(out, 0, j), 0, static_cast<int64_t>(pb.probe_y.at({j}))));
      for (int64_t c = 0; c < 3; ++c) f.push_back(select(select(out, 0, j), 0, c));
    }
    return f;
  };
  const int64_t M = 16, N = 11;
  Tensor reference = Tensor::zeros({M, N}, DType::Float64), reference_decay = Tensor::zeros({M}, DType::Float64);
  // Adam state recomputed independently from the stored trajectory.
  Tensor m_state = Tensor::zeros({layout.size()}, DType::Float64), v_state = m_state.clone();
  std::vector<std::vector<std::pair<int64_t, Tensor>>> sample_grads;  // per step: (id, a_i ∇ℓ_i(θ_r))
  const ex::QuadratureRule rule = ex::gauss_legendre(8);
  for (int s = 0; s < steps; ++s) {
    layout.assign(theta[s], params);
    std::vector<std::pair<int64_t, Tensor>> gs;
    Tensor g = Tensor::zeros({layout.size()}, DType::Float64);
    const int64_t B = batch_ids[s].numel();
    for (int64_t j = 0; j < B; ++j) {
      const int64_t id = static_cast<int64_t>(batch_ids[s].at({j}));
      Tensor xi = K::narrow(pb.x, 0, id, 1), yi = K::narrow(pb.y, 0, id, 1);
      Tensor gi = K::mul_scalar(flat_grad(nn::nll_loss(model->forward(xi), yi)), 1.0 / static_cast<double>(B));
      K::add_(g, gi);
      gs.emplace_back(id, gi);
    }
    sample_grads.push_back(gs);
    m_state = K::add(K::mul_scalar(m_state, b1), K::mul_scalar(g, 1 - b1));
    v_state = K::add(K::mul_scalar(v_state, b2), K::mul_scalar(K::mul(g, g), 1 - b2));
    const double k = s + 1;
    const Tensor D = K::div(Tensor::full({layout.size()}, lr / (1 - std::pow(b1, k)), DType::Float64),
                            K::add_scalar(K::sqrt(K::mul_scalar(v_state, 1 / (1 - std::pow(b2, k)))), eps));
    const Tensor R = K::mul_scalar(theta[s], -lr * wd);
    // φ_s by composite Gauss–Legendre(8) on 16 pieces, one backward per probe scalar.
    const Tensor delta = K::sub(theta[s + 1], theta[s]);
    std::vector<Tensor> phi(M, Tensor());
    for (int piece = 0; piece < 16; ++piece) {
      const ex::QuadratureRule r = rule.on(piece / 16.0, (piece + 1) / 16.0);
      for (size_t q = 0; q < r.nodes.size(); ++q) {
        layout.assign(K::add(theta[s], K::mul_scalar(delta, r.nodes[q])), params);
        std::vector<Tensor> f = probe_scalars();
        for (int64_t mi = 0; mi < M; ++mi) {
          const Tensor gq = K::mul_scalar(flat_grad(f[mi]), r.weights[q]);
          phi[mi] = phi[mi].defined() ? K::add(phi[mi], gq) : gq;
        }
      }
    }
    // Explicit loops over earlier steps r ≤ s and their samples: C_{s,r} = −(1−β1) β1^{s−r} D_s.
    for (int64_t mi = 0; mi < M; ++mi) {
      for (int r = 0; r <= s; ++r)
        for (const auto& [id, gi] : sample_grads[r]) {
          const double c = -(1 - b1) * std::pow(b1, s - r);
          const double v = K::sum(K::mul(phi[mi], K::mul(K::mul_scalar(D, c), gi))).item();
          reference.set({mi, id}, reference.at({mi, id}) + v);
        }
      reference_decay.set({mi}, reference_decay.at({mi}) + K::sum(K::mul(phi[mi], R)).item());
    }
  }
  CHECK(K::amax(K::abs(K::sub(reference, online))).item() < 1e-10);
  CHECK(K::amax(K::abs(K::sub(reference_decay, online_decay))).item() < 1e-10);
  CHECK(K::amax(K::abs(reference)).item() > 1e-3);  // the comparison is not between zeros
}

TEST_CASE("a tracked run resumed from a checkpoint gives the same exports as an uninterrupted one") {
  MakeOptimizer make = [](const NamedTensors& p) {
    return std::make_unique<optim::AdamW>(p, optim::AdamW::Options(0.05).weight_decay(0.5));
  };
  const ex::TrackerOptions base = ex::TrackerOptions().rule(ex::gauss_legendre(2)).tolerance(1e-12).window(3);
  const std::string straight = temp_dir("resume_straight"), resumed = temp_dir("resume_resumed"),
                    ckpt = temp_dir("resume_checkpoint");
  train(make, 8, true, straight, false, base, true);

  Problem pb;
  nn::data::TensorDataset ds(pb.x, pb.y);
  ex::ProbeSet probes;
  probes.name = "probes";
  probes.x = pb.probe_x;
  probes.y = pb.probe_y;
  probes.weightings = {ex::OutputWeighting::label(), ex::OutputWeighting::all_outputs()};  // as train() does
  probes.sample_level = true;
  auto session = [&](int from, int to, bool resume, bool finish) {
    auto model = make_model(resume ? 99 : 7, true);  // a resumed run starts from other weights
    nn::data::DataLoader loader(ds, nn::data::DataLoaderOptions(4).shuffle(true).seed(3));
    auto opt = make(model->named_parameters());
    if (resume) optim::load_checkpoint(ckpt, *model, *opt, loader);
    ex::TrackerOptions o = base;
    o.output_dir(resumed).per_sample(true).combinations(true);
    if (resume) o.resume_from(ckpt);
    ex::Tracker tracker(*model, *opt, loader, per_sample_nll, {probes}, o);
    for (int s = from; s < to; ++s) {
      const nn::data::Batch& b = loader.next();
      opt->zero_grad();
      nn::nll_loss(model->forward(b.x), b.y).backward();
      opt->step();
      if (s == 4) {  // checkpoint after 5 steps; the steps after it are lost in the "crash"
        optim::save_checkpoint(ckpt, *model, *opt, loader);
        tracker.save_state(ckpt);
      }
    }
    if (finish) tracker.finish();
  };
  session(0, 7, false, false);  // stops after 7 steps without finishing
  session(5, 8, true, true);    // resumes after step 5
  for (const char* f : {"replica.npy", "step_influence.npy", "residuals.npy", "component_window_data.npy",
                        "sample_data.npy", "sample_window_data.npy", "parameter_window_data.npy"}) {
    INFO(f);
    const Tensor a = load_npy(straight + "/" + f), b = load_npy(resumed + "/" + f);
    REQUIRE(a.shape() == b.shape());
    CHECK(K::amax(K::abs(K::sub(a, b))).item() == 0.0);
  }
}

TEST_CASE("the sample level in blocks of samples gives one block's shares to float64 rounding") {
  // K blocks change only which samples' per-sample gradients share a chunk and which buffer rows
  // share a product GEMM, i.e. the order of float64 sums: each share is, per step, a sum of P
  // products φ̂_p·b_p (error ≤ P·u·Σ_p |φ̂_p b_p| to first order), accumulated over S steps. With
  // Σ_p |φ̂_p b_p| bounded here by the largest share's magnitude times 1e3 (no cancellation of
  // more than three digits in this small problem), the bound is 1e3·P·S·u·max |share|.
  MakeOptimizer make = [](const NamedTensors& p) {
    return std::make_unique<optim::AdamW>(p, optim::AdamW::Options(0.05).weight_decay(0.5));
  };
  const int steps = 6;
  const std::string one = temp_dir("blocks_one"), three = temp_dir("blocks_three");
  const RunResult a = train(make, steps, true, one);
  const RunResult b = train(make, steps, true, three, false, ex::TrackerOptions().sample_shards(3));
  const double P = static_cast<double>(make_model(7)->num_parameters()), u = 0x1p-53;
  for (const char* f : {"sample_data.npy", "sample_window_data.npy", "sample_component_data.npy"}) {
    INFO(f);
    const Tensor x = load_npy(one + "/" + f), y = load_npy(three + "/" + f);
    REQUIRE(x.shape() == y.shape());
    const double scale = K::amax(K::abs(x)).item();
    CHECK(scale > 1e-3);  // the comparison is not between zeros
    CHECK(K::amax(K::abs(K::sub(x, y))).item() <= 1e3 * P * steps * u * scale);
  }
  // Blocks that do not fit the samples are refused, naming the option.
  CHECK_THROWS_WITH_AS(train(make, 1, true, temp_dir("blocks_many"), false, ex::TrackerOptions().sample_shards(21)),
                       doctest::Contains("sample_shards 21: a batch of 11 samples"), std::invalid_argument);
}

// ------------------------------------------------------------------ hostile tracker states
namespace {

// A tracker with the sample level and combinations on the Problem's probes, for `model`.
std::unique_ptr<ex::Tracker> sample_level_tracker(nn::Module& model, optim::Optimizer& opt,
                                                  nn::data::DataLoader& loader, const ex::TrackerOptions& options) {
  Problem pb;
  ex::ProbeSet probes;
  probes.name = "probes";
  probes.x = pb.probe_x;
  probes.y = pb.probe_y;
  probes.weightings = {ex::OutputWeighting::label()};
  probes.sample_level = true;
  return std::make_unique<ex::Tracker>(model, opt, loader, per_sample_nll, std::vector<ex::ProbeSet>{probes},
                                       ex::TrackerOptions(options).per_sample(true).combinations(true));
}

}  // namespace

TEST_CASE("a tracker state that does not fit the configuration is refused when the tracker is built") {
  const std::string out = temp_dir("hostile_out"), saved = temp_dir("hostile_saved");
  Problem pb;
  nn::data::TensorDataset ds(pb.x, pb.y);
  const auto make_opt = [](nn::Module& m) {
    return std::make_unique<optim::AdamW>(m.named_parameters(), optim::AdamW::Options(0.05).weight_decay(0.5));
  };
  {  // three steps, then the state
    auto model = make_model(7);
    nn::data::DataLoader loader(ds, nn::data::DataLoaderOptions(4).shuffle(true).seed(3));
    auto opt = make_opt(*model);
    auto tracker = sample_level_tracker(*model, *opt, loader, ex::TrackerOptions().output_dir(out));
    for (int s = 0; s < 3; ++s) {
      const nn::data::Batch& b = loader.next();
      opt->zero_grad();
      nn::nll_loss(model->forward(b.x), b.y).backward();
      opt->step();
    }
    tracker->save_state(saved);
  }
  // The saved state's two files (its one block of sample buffers) and their metadata keys.
  const std::map<std::string, std::string> keys = {{"tracker_state", "pathgrad.tracker"},
                                                   {"sample_buffers_0_of_1", "pathgrad.sample_buffers"}};
  std::map<std::string, SafetensorsContents> good;
  for (const auto& [file, key] : keys) good[file] = load_safetensors(saved + "/" + file + ".safetensors");
  using Change = std::function<void(NamedTensors&, std::string&)>;
  // Builds a tracker (with `options`) resuming from the saved state whose `file` is changed by
  // `change`; returns its error, which must name `named` (the changed file by default).
  const auto resume_error_in = [&](const std::string& file, const std::string& name, const Change& change,
                                   const ex::TrackerOptions& options = {}, const std::string& named = "") {
    const std::string dir = temp_dir("hostile_" + name);
    for (const auto& [f, key] : keys) {
      NamedTensors tensors = good[f].tensors;
      std::string text = good[f].metadata.at(key);
      if (f == file) change(tensors, text);
      save_safetensors(dir + "/" + f + ".safetensors", tensors, {{key, text}});
    }
    auto model = make_model(7);
    nn::data::DataLoader loader(ds, nn::data::DataLoaderOptions(4).shuffle(true).seed(3));
    auto opt = make_opt(*model);
    try {
      sample_level_tracker(*model, *opt, loader, ex::TrackerOptions(options).output_dir(out).resume_from(dir));
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      CHECK_MESSAGE(what.find(dir + "/" + (named.empty() ? file : named) + ".safetensors: ") == 0, what);
      return what;
    }
    return std::string("no error");
  };
  const auto resume_error = [&](const std::string& name, const Change& change) {
    return resume_error_in("tracker_state", name, change);
  };
  const auto buffers_error = [&](const std::string& name, const Change& change) {
    return resume_error_in("sample_buffers_0_of_1", name, change);
  };
  const auto tensor = [](NamedTensors& ts, const std::string& name) -> Tensor& {
    auto it = std::find_if(ts.begin(), ts.end(), [&](const auto& e) { return e.first == name; });
    REQUIRE(it != ts.end());
    return it->second;
  };
  const auto set_meta = [&](const std::string& field, const nlohmann::json& value) {
    return [=](NamedTensors&, std::string& text) {
      nlohmann::json m = nlohmann::json::parse(text);
      m[field] = value;
      text = m.dump();
    };
  };
  CHECK(resume_error("same", [](NamedTensors&, std::string&) {}) == "no error");
  CHECK(resume_error("dtype", [&](NamedTensors& ts, std::string&) {
          tensor(ts, "data_total") = tensor(ts, "data_total").to(DType::Float32);
        }).find("'data_total' is float32 [4] in the file, expected float64 [4]") != std::string::npos);
  CHECK(buffers_error("buffers", [&](NamedTensors& ts, std::string&) {
          tensor(ts, "buffers.stored") = tensor(ts, "buffers.stored").to(DType::Float32);
        }).find("'buffers.stored' is float32") != std::string::npos);
  CHECK(buffers_error("buffer_steps", [](NamedTensors&, std::string& text) {
          nlohmann::json m = nlohmann::json::parse(text);
          m["steps"] = 2;
          text = m.dump();
        }).find("holds steps 2 where this run expects 3") != std::string::npos);
  // Saved in one block of samples, resumed in two: the first block's file is missing.
  CHECK(resume_error_in(
            "tracker_state", "two_blocks", [](NamedTensors&, std::string&) {}, ex::TrackerOptions().sample_shards(2),
            "sample_buffers_0_of_2")
            .find("missing: this run keeps the sample buffers of 11 training samples in 2 blocks") !=
        std::string::npos);
  CHECK(resume_error("shape", [&](NamedTensors& ts, std::string&) {
          tensor(ts, "f_initial") = K::narrow(tensor(ts, "f_initial"), 0, 0, 0);
        }).find("'f_initial' is float64 [0] in the file, expected float64 [4]") != std::string::npos);
  CHECK(resume_error("extra", [&](NamedTensors& ts, std::string&) {
          ts.emplace_back("bogus", Tensor::zeros({1}));
        }).find("unexpected tensor 'bogus'") != std::string::npos);
  CHECK(buffers_error("sigma", [&](NamedTensors& ts, std::string&) {
          tensor(ts, "buffers.sigma").fill_(0.0);
        }).find("'buffers.sigma' holds the scale 0") != std::string::npos);
  CHECK(resume_error("steps", set_meta("steps", 2.5)).find("field 'steps' must be an integer") != std::string::npos);
  CHECK(resume_error("window", set_meta("window_begin", 4)).find("field 'window_begin' must be an integer in [0, 3]") !=
        std::string::npos);
  CHECK(resume_error("deep", [](NamedTensors&, std::string& text) {
          text = std::string(100'000, '[') + std::string(100'000, ']');
        }).find("metadata 'pathgrad.tracker': JSON nested deeper than 64") != std::string::npos);
}
