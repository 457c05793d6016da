// Lesson 7 — influence. A small ReLU MLP tells Fashion-MNIST's T-shirts/tops from shirts, trained
// with full-batch SGD while the tracker keeps the kernel machine's terms. We read which training
// images moved a test prediction (proponents and opponents), through which layer, at which steps,
// and compare the path-kernel influence with retraining without the sample (leave-one-out).
//
//   ./build/examples/course/lesson_07_influence [output directory, default runs/course/07_influence]
#include <fmt/format.h>

#include <cmath>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "examples/course/07_influence/exercises.hpp"
#include "examples/course/common/flat_model.hpp"
#include "examples/course/common/require.hpp"
#include "explaind/report/plot.hpp"
#include "explaind/tracker.hpp"
#include "nn/data/idx.hpp"
#include "nn/data/loader.hpp"
#include "nn/loss.hpp"
#include "optim/sgd.hpp"
#include "tensor/npy.hpp"

using namespace pathgrad;
using namespace pathgrad::course;
namespace K = pathgrad::kernel;
namespace ex = pathgrad::explaind;

namespace {

constexpr int64_t kTrain = 200, kProbes = 8, kHidden = 16, kShown = 6, kCompared = 8;
constexpr int kSteps = 40;
constexpr double kLr = 0.05;                        // per unit of the mean loss: the summed loss takes kLr / kTrain
const std::vector<int> kHorizons = {1, 5, kSteps};  // leave-one-out is compared after these many steps
const char* const kClassNames[] = {"T-shirt/top", "shirt"};  // Fashion-MNIST classes 0 and 6

Tensor per_sample_nll(const Tensor& out, const Tensor& y) { return nn::nll_loss(out, y, nn::Reduction::None); }

struct Images {
  nn::data::ImageSet train, test;  // float64 pixels in [0, 1]
};

Images load_images() {
  const nn::data::ImageSplits s =
      nn::data::load_fashion_mnist(nn::data::kDebianFashionMnistDir, nn::data::ImageOptions().classes({0, 6}));
  auto head = [](const nn::data::ImageSet& set, int64_t n) {
    return nn::data::ImageSet{K::narrow(set.images, 0, 0, n).to(DType::Float64).clone(),
                              K::narrow(set.labels, 0, 0, n).clone()};
  };
  return {head(s.train, kTrain), head(s.test, kProbes)};
}

// The tracked run: full-batch SGD on Σ_i ℓ_i (Reduction Sum: a_i = 1, so leaving sample j out
// removes exactly its terms from the loss), the same run trained_value() repeats.
void train_tracked(const FullBatchProblem& problem, const nn::data::ImageSet& probes, const std::string& dir) {
  auto model = make_tiny_mlp(problem.in, problem.hidden, problem.classes, Activation::Relu, problem.seed);
  nn::data::TensorDataset dataset(problem.x, problem.y);
  nn::data::DataLoader loader(dataset, nn::data::DataLoaderOptions(kTrain));  // every sample, in order
  optim::SGD opt(model->named_parameters(), optim::SGDOptions(problem.lr));
  const ex::ProbeSet probe_set = label_probes("test", probes.images, probes.labels, true);  // F = log p(label)
  ex::Tracker tracker(*model, opt, loader, per_sample_nll, {probe_set},
                      ex::TrackerOptions().per_sample(true).reduction(nn::Reduction::Sum).window(1).output_dir(dir));
  for (int s = 0; s < problem.steps; ++s) {
    const nn::data::Batch& batch = loader.next();
    opt.zero_grad();
    nn::nll_loss(model->forward(batch.x), batch.y, nn::Reduction::Sum).backward();
    opt.step();
  }
  const ex::Summary summary = tracker.finish();
  fmt::print("tracked {} steps: replica max |error| {:.1e}; samples + residual = total change to {:.1e}\n",
             summary.steps, summary.replica_max_abs_error, summary.marginal_mismatch);
  // Every step's residual ends below the tracker's default tolerance, 1e-9 per probe scalar; the
  // samples' terms are float64 sums of the same update (float64 training): rounding only.
  require(summary.replica_max_abs_error <= kSteps * 1e-9, "the replica reproduces the model");
  require(summary.marginal_mismatch < 1e-10, "the samples' terms add up to each probe's change");
}

std::string describe(const nn::data::ImageSet& set, int64_t i) {
  return kClassNames[static_cast<int64_t>(set.labels.at({i}))];
}

// Which steps: φ_s·Δθ_s of the first four probes (step_influence.npy [S, M]).
void plot_steps(const std::string& dir, const nn::data::ImageSet& probes, const std::string& png) {
  const Tensor steps = load_npy(dir + "/step_influence.npy");
  std::vector<double> s;
  for (int64_t i = 0; i < steps.size(0); ++i) s.push_back(static_cast<double>(i));
  explaind::report::LinePlot plot;
  for (int64_t m = 0; m < 4; ++m)
    plot.add_series(fmt::format("test {} ({})", m, describe(probes, m)), s,
                    K::narrow(steps, 1, m, 1).contiguous().to_vector());
  plot.title("Which steps: the change of log p(label) each step made").xlabel("step s").ylabel("φ_s·Δθ_s");
  plot.render(png);
}

// Which layers: the per-module components (names ending in ".*") of component_data.npy [M, C].
void plot_layers(const std::string& dir, const nn::data::ImageSet& probes, const std::string& png) {
  const nlohmann::json manifest = nlohmann::json::parse(std::ifstream(dir + "/manifest.json"));
  const Tensor comp = load_npy(dir + "/component_data.npy");
  std::vector<std::string> categories;
  for (int64_t m = 0; m < kProbes; ++m) categories.push_back(fmt::format("test {} ({})", m, describe(probes, m)));
  explaind::report::BarChart chart(categories);
  const nlohmann::json& components = manifest["axes"]["component"];
  for (size_t c = 0; c < components.size(); ++c) {
    const std::string name = components[c]["name"];
    if (name.ends_with(".*"))
      chart.add_series(name, K::narrow(comp, 1, static_cast<int64_t>(c), 1).contiguous().to_vector());
  }
  chart.title("Which layers: each layer's share of the change of log p(label)").ylabel("influence").render(png);
}

// The probe and its top proponents (row 1) and opponents (row 2), tiled into one image.
void plot_extremes(const nn::data::ImageSet& train, const nn::data::ImageSet& probes, const std::vector<int64_t>& up,
                   const std::vector<int64_t>& down, const std::string& png) {
  const int64_t side = 28, cols = kShown + 1;
  std::vector<double> pixels(2 * side * cols * side, NAN);       // NaN: the empty cell under the probe
  auto paste = [&](const Tensor& image, int64_t r, int64_t c) {  // image [1, 28, 28]
    const std::vector<double> v = image.contiguous().to_vector();
    for (int64_t y = 0; y < side; ++y)
      for (int64_t x = 0; x < side; ++x) pixels[(r * side + y) * cols * side + c * side + x] = v[y * side + x];
  };
  paste(row(probes.images, 0), 0, 0);
  for (int64_t k = 0; k < kShown; ++k) {
    paste(row(train.images, up[k]), 0, k + 1);
    paste(row(train.images, down[k]), 1, k + 1);
  }
  std::vector<explaind::report::AxisGroup> columns{{"test 0", side}};
  for (int64_t k = 0; k < kShown; ++k) columns.push_back({fmt::format("#{}", k + 1), side});
  explaind::report::Heatmap(pixels, 2 * side, cols * side)
      .palette(explaind::report::Palette::Sequential)
      .color_range(0, 1)
      .colorbar_label("pixel")
      .row_groups({{"proponents", side}, {"opponents", side}})
      .col_groups(columns)
      .title(
          fmt::format("test 0 ({}): the training images that raised / lowered log p(label) most", describe(probes, 0)))
      .size(1000, 420)
      .render(png);
}

// The path-kernel influence of some samples on test image 0 against leave-one-out retraining.
struct Comparison {
  std::vector<int64_t> samples;
  std::vector<double> path, loo;  // I_j (from the exports) and F(all) − F(all but j), retrained
  double rho = 0, rho_extremes = 0;
  int64_t same_sign = 0, extremes_same_sign = 0;
};

// The samples compared: the kCompared strongest proponents and opponents, then kCompared of
// middling influence (spread over the ranking).
std::vector<int64_t> compared_samples(const std::vector<double>& influence) {
  std::vector<int64_t> chosen = top_k(influence, kCompared, true);
  for (int64_t j : top_k(influence, kCompared, false)) chosen.push_back(j);
  const std::vector<int64_t> by_size = top_k(influence, kTrain, true);
  for (int64_t k = 1; k <= kCompared; ++k) chosen.push_back(by_size[k * kTrain / (kCompared + 2)]);
  return chosen;
}

// Retrains `problem` without each compared sample (exercise 3) and ranks (exercise 2).
Comparison compare_with_loo(const FullBatchProblem& problem, const nn::data::ImageSet& probes,
                            const std::vector<double>& influence) {
  Comparison c;
  c.samples = compared_samples(influence);
  std::vector<int64_t> all(kTrain);
  for (int64_t i = 0; i < kTrain; ++i) all[i] = i;
  const Tensor x = row(probes.images, 0);
  const int64_t label = static_cast<int64_t>(probes.labels.at({0}));
  const double full = trained_value(problem, all, x, label);
  for (size_t k = 0; k < c.samples.size(); ++k) {
    std::vector<int64_t> keep;
    for (int64_t i : all)
      if (i != c.samples[k]) keep.push_back(i);
    c.path.push_back(influence[c.samples[k]]);
    c.loo.push_back(full - trained_value(problem, keep, x, label));
    const bool agree = (c.path[k] > 0) == (c.loo[k] > 0);
    c.same_sign += agree;
    c.extremes_same_sign += agree && k < 2 * kCompared;
  }
  const auto head = [](const std::vector<double>& v) {
    return std::vector<double>(v.begin(), v.begin() + 2 * kCompared);
  };
  c.rho = spearman(c.path, c.loo);
  c.rho_extremes = spearman(head(c.path), head(c.loo));
  return c;
}

void print_comparison(const Comparison& c, int steps) {
  fmt::print("\nafter {} step{}, leave-one-out on {} samples ({} retrainings):\n", steps, steps > 1 ? "s" : "",
             c.samples.size(), c.samples.size());
  fmt::print(
      "  Spearman(path-kernel influence, F(all) − F(all but j)): {:+.2f} over all, {:+.2f} over the {} extremes\n",
      c.rho, c.rho_extremes, 2 * kCompared);
  fmt::print("  same sign: {} of {} (the extremes: {} of {})\n", c.same_sign, c.samples.size(), c.extremes_same_sign,
             2 * kCompared);
  fmt::print("  sample  path kernel  leave-one-out\n");
  for (size_t k = 0; k < c.samples.size(); ++k)
    fmt::print("  #{:<5}  {:+.5f}     {:+.5f}\n", c.samples[k], c.path[k], c.loo[k]);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string out = argc > 1 ? argv[1] : "runs/course/07_influence";
  const std::string dir = out + "/explaind";
  try {
    const Images images = load_images();
    const FullBatchProblem problem{images.train.images, images.train.labels, 784, kHidden, 2, 0, kLr / kTrain, kSteps};
    train_tracked(problem, images.test, dir);

    // Which samples: row 0 of sample_data.npy [M, N] is test image 0's term of every training image.
    const std::vector<double> influence = row(load_npy(dir + "/sample_data.npy"), 0).contiguous().to_vector();
    const std::vector<int64_t> up = top_k(influence, kShown, true), down = top_k(influence, kShown, false);
    fmt::print("\ntest image 0 is a {}; the training images that moved its log p(label) most:\n",
               describe(images.test, 0));
    for (int64_t k = 0; k < kShown; ++k)
      fmt::print("  raised: #{:<4} {:<12} {:+.4f}    lowered: #{:<4} {:<12} {:+.4f}\n", up[k],
                 describe(images.train, up[k]), influence[up[k]], down[k], describe(images.train, down[k]),
                 influence[down[k]]);
    plot_steps(dir, images.test, out + "/influence_per_step.png");
    plot_layers(dir, images.test, out + "/influence_per_layer.png");
    plot_extremes(images.train, images.test, up, down, out + "/proponents_opponents.png");

    // Leave-one-out after 1, 5 and 40 steps; the influence after k steps is the sum of the first
    // k one-step windows of sample_window_data.npy [W, M, N].
    const Tensor windows = load_npy(dir + "/sample_window_data.npy");
    explaind::report::PlotGrid grid;
    for (int steps : kHorizons) {
      const std::vector<double> upto =
          K::sum(K::narrow(K::narrow(windows, 0, 0, steps), 1, 0, 1), {0, 1}).to_vector();  // [N]
      FullBatchProblem shorter = problem;
      shorter.steps = steps;
      const Comparison c = compare_with_loo(shorter, images.test, upto);
      print_comparison(c, steps);
      // One step: leave-one-out is the kernel machine's term up to O(η²) (exercise 3's test).
      if (steps == 1)
        require(c.rho > 0.95 && c.same_sign == static_cast<int64_t>(c.samples.size()),
                "after one step, leave-one-out agrees with the path-kernel influence");
      double lim = 0;
      for (double v : c.loo) lim = std::max(lim, std::abs(v));
      grid.add(explaind::report::LinePlot()
                   .add_series("samples", c.path, c.loo, explaind::report::SeriesStyle::Points)
                   .add_series("y = x", {-lim, lim}, {-lim, lim})
                   .title(fmt::format("after {} step{}: Spearman {:+.2f}", steps, steps > 1 ? "s" : "", c.rho))
                   .legend(explaind::report::LegendPosition::Hidden));
    }
    grid.columns(3)
        .title("test 0: path-kernel influence I_j (x) against leave-one-out retraining (y)")
        .xlabel("I_j")
        .ylabel("F(all) − F(all but j)")
        .size(1200, 420)
        .render(out + "/influence_vs_loo.png");
    fmt::print(
        "plots in {}: influence_per_step.png, influence_per_layer.png, proponents_opponents.png, "
        "influence_vs_loo.png\n",
        out);
  } catch (const std::exception& e) {
    fmt::print(stderr, "lesson_07_influence: {}\n", e.what());
    return 1;
  }
  return 0;
}
