// Lesson 6 — quadrature and kinks. A tiny ReLU MLP trained with SGD: along every step's segment
// the gradient of F = log p(label) jumps wherever a ReLU unit switches, so a fixed quadrature rule
// on equal pieces converges only at first order whatever its degree. We audit the residual
// ρ_s = F(θ_{s+1}) − F(θ_s) − φ̂_s·Δθ_s of every rule against its cost, with and without splitting
// the segment at the kinks (exercises 1–4), then run the tracker with its options rule,
// kink_aware, adaptive and tolerance.
//
//   ./build/examples/course/lesson_06_quadrature [output directory, default runs/course/06_quadrature]
#include <fmt/format.h>

#include <cmath>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "examples/course/06_quadrature/exercises.hpp"
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

constexpr int kSteps = 20;
constexpr double kLr = 0.5;
constexpr double kTolerance = 1e-9;  // the tracker's default per-step target
constexpr int64_t kHidden = 16, kTrain = 60, kBatch = 10, kProbes = 8;

Tensor per_sample_nll(const Tensor& out, const Tensor& y) { return nn::nll_loss(out, y, nn::Reduction::None); }

std::unique_ptr<TinyMlp> fresh_model() { return make_tiny_mlp(2, kHidden, 3, Activation::Relu, 0); }

// θ_0..θ_S of a training run, and the tracker's summary when one was attached.
struct TrainResult {
  std::vector<Tensor> theta;
  std::optional<ex::Summary> summary;
};

// Trains kSteps SGD steps, with a tracker when `options` are given.
TrainResult train(const PlanePoints& data, const PlanePoints& probes,
                  const std::optional<ex::TrackerOptions>& options) {
  auto model = fresh_model();
  nn::data::TensorDataset dataset(data.x, data.y);
  nn::data::DataLoader loader(dataset, nn::data::DataLoaderOptions(kBatch).shuffle(true).seed(0));
  optim::SGD opt(model->named_parameters(), optim::SGDOptions(kLr));
  std::unique_ptr<ex::Tracker> tracker;
  if (options) {
    const std::vector<ex::ProbeSet> probe_sets{label_probes("test", probes.x, probes.y, false)};  // log p(label)
    tracker = std::make_unique<ex::Tracker>(*model, opt, loader, per_sample_nll, probe_sets, *options);
  }
  const FlatView view(*model);
  std::vector<Tensor> theta{view.theta()};
  for (int s = 0; s < kSteps; ++s) {
    const nn::data::Batch& batch = loader.next();
    opt.zero_grad();
    nn::nll_loss(model->forward(batch.x), batch.y).backward();
    opt.step();
    theta.push_back(view.theta());
  }
  TrainResult result{theta, std::nullopt};
  if (tracker) result.summary = tracker->finish();
  return result;
}

// The probes' F and dF/dt along one step, on a scratch model.
class Segment {
 public:
  Segment(TinyMlp& model, const FlatView& view, const PlanePoints& probes, const Tensor& theta0, const Tensor& theta1)
      : model_(model), view_(view), probes_(probes), theta0_(theta0), delta_(K::sub(theta1, theta0)) {
    for (int64_t i = 0; i < view.layout().count(); ++i)  // Δθ of parameter i, in its own shape
      directions_.push_back({K::reshape(view.layout().segment(delta_, i), view.layout().shape(i))});
  }
  // F_m(θ0 + tΔθ) for every probe: [M], graph recorded.
  Tensor values(double t) const {
    view_.load(K::add(theta0_, K::mul_scalar(delta_, t)));
    const Tensor out = model_.forward(probes_.x);                      // [M, 3]
    return reshape(gather(out, 1, K::unsqueeze(probes_.y, 1)), {-1});  // [M]
  }
  // dF_m/dt = ∇F_m·Δθ at t: [M]. One backward pass contracts every probe's gradient with Δθ.
  Tensor derivative(double t) const {
    std::vector<Tensor> leaves;
    for (const auto& [name, p] : view_.params()) leaves.push_back(p);
    const std::vector<Tensor> dots = per_sample_grad_dot(values(t), leaves, directions_);  // per parameter [M, 1]
    Tensor sum = Tensor::zeros({probes_.x.size(0)}, DType::Float64);
    for (const Tensor& d : dots) K::add_(sum, K::reshape(d, {-1}));
    return sum;
  }
  // The crossings of probe m's ReLU units along the segment (the first layer moves linearly).
  std::vector<double> crossings(int64_t m) const {
    NoGradGuard no_grad;
    const Tensor x = K::narrow(probes_.x, 0, m, 1);  // [1, 2]
    view_.load(theta0_);
    const Tensor z0 = model_.preactivation(x).clone();  // [1, hidden]
    view_.load(K::add(theta0_, delta_));
    return linear_crossings(z0, model_.preactivation(x));
  }
  // F(θ1) − F(θ0): [M].
  Tensor change() const {
    NoGradGuard no_grad;
    return K::sub(values(1.0), values(0.0));
  }

 private:
  TinyMlp& model_;
  const FlatView& view_;
  const PlanePoints& probes_;
  Tensor theta0_, delta_;
  std::vector<std::vector<Tensor>> directions_;
};

// One point of the audit: mean gradient evaluations per probe input and step, and mean |ρ_s|.
struct AuditPoint {
  double evaluations, residual;
};

// Pieces of probe m's segment in step s.
using EdgesOf = std::function<std::vector<double>(size_t step, int64_t probe)>;

// The audit of one rule over the whole trajectory, every probe input on its own pieces. (Each
// evaluation g(t) computes all probes at once; only probe m's entry is used with m's pieces.)
AuditPoint audit(const std::vector<Segment>& segments, const ex::QuadratureRule& rule, const EdgesOf& edges_of) {
  double evaluations = 0, residual = 0;
  for (size_t s = 0; s < segments.size(); ++s) {
    const Tensor change = segments[s].change();  // [M]
    const PathDerivative g = [&](double t) { return segments[s].derivative(t); };
    for (int64_t m = 0; m < kProbes; ++m) {
      const std::vector<double> edges = edges_of(s, m);
      const double rho = change.at({m}) - integrate_pieces(g, edges, rule).at({m});
      evaluations += static_cast<double>((edges.size() - 1) * rule.nodes.size());
      residual += std::abs(rho);
    }
  }
  const double count = static_cast<double>(segments.size() * kProbes);
  return {evaluations / count, residual / count};
}

std::vector<double> uniform_edges(int pieces) {
  std::vector<double> e;
  for (int k = 0; k <= pieces; ++k) e.push_back(static_cast<double>(k) / pieces);
  return e;
}

struct Curve {
  std::string name;
  std::vector<double> evaluations, residuals;
  void add(const AuditPoint& p) {
    evaluations.push_back(p.evaluations);
    residuals.push_back(p.residual);
  }
  // The order fitted to the points above float64's rounding level (NaN if fewer than two).
  double order() const {
    std::vector<double> n, e;
    for (size_t j = 0; j < residuals.size(); ++j)
      if (residuals[j] > 1e-13) n.push_back(evaluations[j]), e.push_back(residuals[j]);
    return n.size() < 2 ? NAN : observed_order(n, e);
  }
};

// The residual audit: every rule on equal pieces and on kink-split pieces.
std::vector<Curve> residual_audit(const std::vector<Segment>& segments) {
  std::vector<std::vector<std::vector<double>>> kinks;  // [step][probe]: crossings
  for (const Segment& seg : segments) {
    kinks.emplace_back();
    for (int64_t m = 0; m < kProbes; ++m) kinks.back().push_back(seg.crossings(m));
  }
  std::vector<Curve> curves;
  for (const ex::QuadratureRule& rule : {ex::midpoint(1), ex::gauss_legendre(2), ex::gauss_legendre(4)}) {
    Curve uniform{rule.name + ", equal pieces", {}, {}}, split{rule.name + ", split at kinks", {}, {}};
    for (int n : {1, 2, 4, 8, 16, 32, 64})
      uniform.add(audit(segments, rule, [&](size_t, int64_t) { return uniform_edges(n); }));
    for (int n : {1, 2, 4, 8})
      split.add(audit(segments, rule, [&](size_t s, int64_t m) { return split_edges(kinks[s][m], n); }));
    curves.push_back(uniform);
    curves.push_back(split);
  }
  return curves;
}

// The tracker on the same training, one configuration at a time.
struct TrackerRun {
  std::string name;
  ex::TrackerOptions options;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string out = argc > 1 ? argv[1] : "runs/course/06_quadrature";
  try {
    const PlanePoints data = sector_points(kTrain, 1), probes = sector_points(kProbes, 3);
    const std::vector<Tensor> theta = train(data, probes, std::nullopt).theta;
    auto scratch = fresh_model();
    const FlatView view(*scratch);
    std::vector<Segment> segments;
    size_t kinks = 0;
    for (int s = 0; s < kSteps; ++s) {
      segments.emplace_back(*scratch, view, probes, theta[s], theta[s + 1]);
      for (int64_t m = 0; m < kProbes; ++m) kinks += segments.back().crossings(m).size();
    }
    fmt::print(
        "ReLU MLP 2-{}-3, {} SGD steps (lr {}): {} ReLU crossings along the {} × {} (step, probe input) segments\n",
        kHidden, kSteps, kLr, kinks, kSteps, kProbes);

    // 1. The residual audit (exercises 1–4).
    const std::vector<Curve> curves = residual_audit(segments);
    explaind::report::LinePlot plot;
    fmt::print("\n{:<34} {:>14}  {:>12}  {}\n", "rule, pieces", "evaluations", "mean |ρ_s|", "observed order");
    for (const Curve& c : curves) {
      fmt::print("{:<34} {:>6.0f} … {:<5.0f}  {:.1e} … {:.1e}  {:.2f}\n", c.name, c.evaluations.front(),
                 c.evaluations.back(), c.residuals.front(), c.residuals.back(), c.order());
      plot.add_series(c.name, c.evaluations, c.residuals, explaind::report::SeriesStyle::LinesPoints);
    }
    plot.title("Residual audit: mean |ρ_s| per probe input and step against its cost")
        .xlabel("gradient evaluations per probe input and step")
        .ylabel("mean |ρ_s|")
        .log_x()
        .y_scale(explaind::report::Scale::Log)
        .legend(explaind::report::LegendPosition::Outside)
        .size(1100, 600)
        .render(out + "/residual_vs_evaluations.png");

    // 2. The tracker's options on the same training.
    // Active fractions (path-kernel.md §4d) are off in the first four rows, to see the kinks alone.
    auto plain = [](const ex::QuadratureRule& rule, bool kinks) {
      return ex::TrackerOptions().rule(rule).kink_aware(kinks).active_fractions(false).adaptive(false);
    };
    const std::vector<TrackerRun> runs = {
        {"midpoint(100), no splitting", plain(ex::midpoint(100), false)},
        {"GL(2), no splitting", plain(ex::gauss_legendre(2), false)},
        {"GL(2), kink_aware", plain(ex::gauss_legendre(2), true)},
        {"GL(4), kink_aware", plain(ex::gauss_legendre(4), true)},
        {"GL(2), 16 equal pieces", plain(ex::gauss_legendre(2), false).pieces(16)},
        {"GL(2), 16 equal pieces, active fractions",
         ex::TrackerOptions().rule(ex::gauss_legendre(2)).pieces(16).kink_aware(false).adaptive(false)},
        {"GL(2), kink_aware + adaptive 1e-9 (defaults)",
         ex::TrackerOptions().rule(ex::gauss_legendre(2)).kink_aware(true).adaptive(true).tolerance(kTolerance)}};
    explaind::report::LinePlot per_step;
    std::vector<double> steps;
    for (int s = 0; s < kSteps; ++s) steps.push_back(s);
    fmt::print("\n{:<46} {:>16} {:>22} {:>10}\n", "tracker configuration", "replica |error|", "gradient evaluations",
               "halvings");
    double best = 1;
    for (size_t k = 0; k < runs.size(); ++k) {
      const std::string dir = fmt::format("{}/tracker_{}", out, k);
      const TrainResult tracked = train(data, probes, ex::TrackerOptions(runs[k].options).output_dir(dir));
      require(K::amax(K::abs(K::sub(tracked.theta.back(), theta.back()))).item() == 0.0,
              "the tracker leaves training alone");
      const Tensor rho = load_npy(dir + "/residuals.npy");  // [S, M]
      const std::vector<double> worst = K::amax(K::abs(rho), {1}).to_vector();
      const Tensor error = K::abs(K::sub(load_npy(dir + "/replica.npy"), load_npy(dir + "/real_outputs.npy")));
      const double max_error = K::amax(error).item();  // = summary.replica_max_abs_error
      fmt::print("{:<46} {:>16.1e} {:>22} {:>10}\n", runs[k].name, max_error, tracked.summary->gradient_evaluations,
                 tracked.summary->deepest_refinement);
      per_step.add_series(runs[k].name, steps, worst, explaind::report::SeriesStyle::LinesPoints);
      best = std::min(best, max_error);
    }
    per_step.title("The tracker's audit (residuals.npy): max over probes of |ρ_s|")
        .xlabel("step s")
        .ylabel("max_m |ρ_s|")
        .y_scale(explaind::report::Scale::Log)
        .legend(explaind::report::LegendPosition::Outside)
        .size(1100, 600)
        .render(out + "/tracker_residuals.png");
    fmt::print("plots: {0}/residual_vs_evaluations.png, {0}/tracker_residuals.png\n", out);

    require(kinks > 0, "the training crosses ReLU kinks");
    require(curves[2].order() < 1.3 && curves[4].order() < 1.3, "GL(2) and GL(4) on equal pieces: first order");
    require(curves[3].order() > 3.5, "GL(2) on kink-split pieces: fourth order");
    require(curves[5].residuals.back() < 1e-13, "GL(4) on the kink-split pieces reaches rounding");
    // Every step's |ρ_s| ends below the tolerance, so the replica is off by at most S · tolerance.
    require(best <= kSteps * kTolerance, "the kink-aware, adaptive tracker meets its tolerance");
  } catch (const std::exception& e) {
    fmt::print(stderr, "lesson_06_quadrature: {}\n", e.what());
    return 1;
  }
  return 0;
}
