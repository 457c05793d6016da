// Lesson 5 — the path kernel. A tiny tanh MLP learns three sectors of the plane with plain SGD.
// After training we rewrite it, step by step, as a kernel machine: for four test inputs we
// integrate the gradient of F = log p(label) along every step's segment ourselves (exercises 1–2),
// check F(θ_S) = F(θ_0) + Σ_s φ_s·Δθ_s, split every step into one term per training sample
// (exercise 3), and compare all of it with what the tracker, attached during training, exported.
//
//   ./build/examples/course/lesson_05_path_kernel [output directory, default runs/course/05_path_kernel]
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>
#include <vector>

#include "examples/course/05_path_kernel/exercises.hpp"
#include "examples/course/common/flat_model.hpp"
#include "examples/course/common/require.hpp"
#include "explaind/report/plot.hpp"
#include "explaind/tracker.hpp"
#include "nn/data/dataset.hpp"
#include "nn/data/loader.hpp"
#include "nn/loss.hpp"
#include "optim/sgd.hpp"
#include "tensor/npy.hpp"

using namespace pathgrad;
using namespace pathgrad::course;
namespace K = pathgrad::kernel;
namespace ex = pathgrad::explaind;

namespace {

constexpr int kSteps = 30;
constexpr double kLr = 0.5;
constexpr int64_t kTrain = 60, kBatch = 10, kProbes = 4;

Tensor per_sample_nll(const Tensor& out, const Tensor& y) { return nn::nll_loss(out, y, nn::Reduction::None); }

// What training leaves behind for the rewrite: θ_0..θ_S and the ids of every step's batch.
struct Trajectory {
  std::vector<Tensor> theta;      // S + 1 vectors, float64 [P]
  std::vector<Tensor> batch_ids;  // S vectors, int64 [B]
};

// Trains with plain SGD while the tracker accounts for every step; records the trajectory.
Trajectory train_tracked(const PlanePoints& train, const PlanePoints& probes, const std::string& export_dir) {
  auto model = make_tiny_mlp(2, 8, 3, Activation::Tanh, 0);
  nn::data::TensorDataset dataset(train.x, train.y);
  nn::data::DataLoader loader(dataset, nn::data::DataLoaderOptions(kBatch).shuffle(true).seed(0));
  optim::SGD opt(model->named_parameters(), optim::SGDOptions(kLr));
  // F = log p(label) of each probe input, with its per-sample terms (sample level).
  const ex::ProbeSet probe_set = label_probes("test", probes.x, probes.y, true);
  ex::Tracker tracker(
      *model, opt, loader, per_sample_nll, {probe_set},
      ex::TrackerOptions().per_sample(true).rule(ex::gauss_legendre(4)).tolerance(1e-13).output_dir(export_dir));
  const FlatView view(*model);
  Trajectory t{{view.theta()}, {}};
  for (int s = 0; s < kSteps; ++s) {
    const nn::data::Batch& batch = loader.next();
    t.batch_ids.push_back(batch.ids.clone());
    opt.zero_grad();
    nn::nll_loss(model->forward(batch.x), batch.y).backward();
    opt.step();
    t.theta.push_back(view.theta());
  }
  tracker.finish();
  return t;
}

// Probe m's F and ∇F as functions of θ, evaluated on a scratch copy of the model.
struct Probe {
  TinyMlp& model;
  const FlatView& view;
  Tensor x;
  int64_t label;
  double value(const Tensor& theta) const {
    NoGradGuard no_grad;
    view.load(theta);
    return log_prob(model, x, label).item();
  }
  Tensor gradient(const Tensor& theta) const {
    view.load(theta);
    return view.gradient(log_prob(model, x, label));
  }
};

// Per-sample loss gradients of a batch at θ: [B, P].
Tensor sample_gradients(TinyMlp& model, const FlatView& view, const PlanePoints& train, const Tensor& theta,
                        const Tensor& ids) {
  view.load(theta);
  std::vector<Tensor> rows;
  for (int64_t j = 0; j < ids.numel(); ++j) {
    const int64_t i = static_cast<int64_t>(ids.at({j}));
    rows.push_back(
        view.gradient(nn::nll_loss(model.forward(K::narrow(train.x, 0, i, 1)), K::narrow(train.y, 0, i, 1))));
  }
  return K::stack(rows, 0);
}

// The kernel machine's term of every training sample for one probe: Σ_s of exercise 3. float64 [N].
Tensor sample_influence(const Probe& probe, const PlanePoints& train, const Trajectory& t) {
  Tensor influence = Tensor::zeros({kTrain}, DType::Float64);
  const auto gradient = [&](const Tensor& theta) { return probe.gradient(theta); };
  for (size_t s = 0; s < t.batch_ids.size(); ++s) {
    const Tensor phi = path_integrated_gradient(gradient, t.theta[s], t.theta[s + 1], ex::gauss_legendre(8));
    const Tensor& ids = t.batch_ids[s];
    const Tensor grads = sample_gradients(probe.model, probe.view, train, t.theta[s], ids);  // [B, P]
    const Tensor terms = sgd_kernel_terms(phi, grads, kLr / static_cast<double>(ids.numel()));
    for (int64_t j = 0; j < ids.numel(); ++j) {
      const int64_t i = static_cast<int64_t>(ids.at({j}));
      influence.set({i}, influence.at({i}) + terms.at({j}));
    }
  }
  return influence;
}

std::vector<double> steps_axis(size_t n) {
  std::vector<double> s(n);
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<double>(i);
  return s;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string out = argc > 1 ? argv[1] : "runs/course/05_path_kernel";
  try {
    const PlanePoints train = sector_points(kTrain, 1), probes = sector_points(kProbes, 2);
    const Trajectory t = train_tracked(train, probes, out + "/explaind");
    fmt::print("trained {} SGD steps (lr {}, batches of {}) on {} points; P = {} parameters\n", kSteps, kLr, kBatch,
               kTrain, t.theta.front().numel());

    auto scratch = make_tiny_mlp(2, 8, 3, Activation::Tanh, 0);
    const FlatView view(*scratch);
    const std::vector<ex::QuadratureRule> rules = {ex::midpoint(1), ex::gauss_legendre(2), ex::gauss_legendre(8)};
    const Tensor tracker_replica = load_npy(out + "/explaind/replica.npy");      // [M]
    const Tensor tracker_samples = load_npy(out + "/explaind/sample_data.npy");  // [M, N]

    explaind::report::LinePlot curves, errors;
    std::vector<double> worst_error(rules.size(), 0);
    double worst_tracker = 0, worst_samples = 0, worst_sum = 0;
    fmt::print("\nprobe  F(θ_0)    F(θ_S)    kernel machine (GL8)  |error| midpoint(1) / GL(2) / GL(8)   tracker\n");
    for (int64_t m = 0; m < kProbes; ++m) {
      const Probe probe{*scratch, view, row(probes.x, m), static_cast<int64_t>(probes.y.at({m}))};
      const ValueAt value = [&](const Tensor& theta) { return probe.value(theta); };
      const GradientAt gradient = [&](const Tensor& theta) { return probe.gradient(theta); };
      std::vector<double> real;
      for (const Tensor& theta : t.theta) real.push_back(value(theta));
      std::vector<std::vector<double>> replicas;
      for (size_t r = 0; r < rules.size(); ++r) {
        replicas.push_back(replica_along(value, gradient, t.theta, rules[r]));
        worst_error[r] = std::max(worst_error[r], max_abs_diff(replicas[r], real));
      }
      const double tracker_error = std::abs(tracker_replica.at({m}) - real.back());
      worst_tracker = std::max(worst_tracker, std::abs(tracker_replica.at({m}) - replicas.back().back()));
      fmt::print("{:>5}  {:+.5f}  {:+.5f}  {:+.12f}       {:.1e} / {:.1e} / {:.1e}          {:.1e}\n", m, real.front(),
                 real.back(), replicas.back().back(), std::abs(replicas[0].back() - real.back()),
                 std::abs(replicas[1].back() - real.back()), std::abs(replicas[2].back() - real.back()), tracker_error);

      curves.add_series(fmt::format("probe {}: model F(θ_s)", m), steps_axis(real.size()), real);
      curves.add_series(fmt::format("probe {}: kernel machine", m), steps_axis(real.size()), replicas.back(),
                        explaind::report::SeriesStyle::Points);
      if (m == 0)
        for (size_t r = 0; r < rules.size(); ++r) {
          std::vector<double> e(real.size());
          for (size_t s = 0; s < e.size(); ++s) e[s] = std::abs(replicas[r][s] - real[s]);
          errors.add_series(rules[r].name, steps_axis(e.size()), e, explaind::report::SeriesStyle::LinesPoints);
        }

      // The kernel machine, term by term: one per training sample, summed over the steps.
      const Tensor influence = sample_influence(probe, train, t);  // [N]
      worst_samples = std::max(worst_samples, K::amax(K::abs(K::sub(influence, row(tracker_samples, m)))).item());
      worst_sum = std::max(worst_sum, std::abs(K::sum(influence).item() - (real.back() - real.front())));
    }
    fmt::print("\nlargest |replica − model| over probes and steps: midpoint(1) {:.1e}, GL(2) {:.1e}, GL(8) {:.1e}\n",
               worst_error[0], worst_error[1], worst_error[2]);
    fmt::print("our GL(8) replica vs the tracker's replica.npy: {:.1e}\n", worst_tracker);
    fmt::print("per-sample terms vs the tracker's sample_data.npy: {:.1e}; Σ_i term_i vs F(θ_S) − F(θ_0): {:.1e}\n",
               worst_samples, worst_sum);

    curves.title("F = log p(label) over training: the model and its kernel machine (GL(8))")
        .xlabel("step s")
        .ylabel("F(θ_s)")
        .legend(explaind::report::LegendPosition::Outside)
        .size(1100, 600)
        .render(out + "/f_over_steps.png");
    errors.title("probe 0: |replica − model| after s steps, by quadrature rule")
        .xlabel("step s")
        .ylabel("|error|")
        .y_scale(explaind::report::Scale::Log)
        .render(out + "/replica_error.png");
    fmt::print("plots: {0}/f_over_steps.png, {0}/replica_error.png\n", out);

    // float64 rounding over 30 steps of P = 51 products stays far below these bounds.
    require(worst_error[2] < 1e-10, "the GL(8) replica reproduces the model");
    require(worst_tracker < 1e-10, "our replica agrees with the tracker's");
    require(worst_samples < 1e-10 && worst_sum < 1e-10, "the per-sample terms agree with the tracker's and add up");
  } catch (const std::exception& e) {
    fmt::print(stderr, "lesson_05_path_kernel: {}\n", e.what());
    return 1;
  }
  return 0;
}
