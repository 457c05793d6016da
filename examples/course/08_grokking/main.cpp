// Lesson 8 — grokking. Runs the grokking example (examples/grokking: a one-layer transformer on
// modular addition, tracked by the path kernel) on a configuration small enough for a lesson, then
// points at every section of its report and recomputes the report's figures from the exports
// (exercises 1–3), checking them against summary.json and analyses/components.csv.
//
//   ./build/examples/course/lesson_08_grokking [output directory, default runs/course/08_grokking]
// The real run, the paper's configuration (about 8 minutes on 2 cores): bash scripts/grokking.sh
#include <fmt/format.h>

#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "examples/course/08_grokking/exercises.hpp"
#include "examples/course/common/require.hpp"
#include "examples/grokking/run.hpp"
#include "explaind/report/plot.hpp"

using namespace pathgrad;
using namespace pathgrad::course;

namespace {

constexpr int64_t kSteps = 1600;

// The paper's experiment shrunk: p = 23 instead of 113 (230 of the 276 unordered pairs to train
// on, 40 to validate), a narrower model (d_model 32, 2 heads, d_mlp 64), a larger learning rate,
// 12 probes instead of 224. It memorises the training pairs within some 700 steps and then, with
// training accuracy at 100 %, slowly learns to answer the validation pairs.
grokking::Config lesson_config(const std::string& out) {
  grokking::Config c;
  c.p = 23;
  c.n_train = 230;
  c.n_val = 40;
  c.d_model = 32;
  c.heads = 2;
  c.d_head = 8;
  c.d_mlp = 64;
  c.lr = 1e-2;
  c.weight_decay = 1.0;
  c.steps = kSteps;
  c.checkpoint_every = 200;  // interval weights for the swap experiment
  c.progress_every = 200;
  c.track = grokking::TrackLevel::Cheap;
  c.tolerance = 1e-7;  // per step and probe; the default run asks for 1e-8
  c.val_probes = 8;
  c.sample_probes = 4;
  c.train_probes = 4;
  c.window_edges = {250, 750, 1250};
  c.threads = 2;
  c.out = out;
  return c;
}

std::string step_or_never(const std::optional<int64_t>& s) { return s ? std::to_string(*s) : "not reached"; }

}  // namespace

int main(int argc, char** argv) {
  const std::string out = argc > 1 ? argv[1] : "runs/course/08_grokking";
  try {
    std::filesystem::remove_all(out);  // run() refuses to overwrite an existing run without --resume
    const grokking::Config config = lesson_config(out);
    const grokking::RunResult result = grokking::run(config, "lesson_08_grokking (course configuration)");
    require(result.summary.has_value(), "the run was tracked and finished");

    fmt::print("\nThe report: {0}/report.html (or report.md); its plots in {0}/plots/. Its sections:\n", out);
    for (const char* s : {"Training: accuracy and loss (metrics.csv); memorisation and generalisation steps",
                          "Replica check: the kernel machine against the model (explaind/summary.json)",
                          "Component influence: each layer and head, data and weight-decay parts per window",
                          "Similarity of explanations: per layer, cosine similarity of probes' parameter influence",
                          "Data influence: needs --track samples (this configuration tracks the cheap level)",
                          "Swap experiment: outer layers of the final model on inner layers of step i"})
      fmt::print("  - {}\n", s);

    // Exercise 3: the milestones, from metrics.csv.
    const Milestones m = milestones(out);
    fmt::print("\n{} steps; memorisation at step {}, generalisation at step {}\n", result.training.steps,
               step_or_never(m.memorisation), step_or_never(m.generalisation));
    require(m.memorisation == result.training.metrics.memorisation_step() &&
                m.generalisation == result.training.metrics.generalisation_step(),
            "exercise 3 finds the report's milestones");

    // Exercise 1: the replica check, from the .npy exports.
    const ReplicaFigures r = replica_figures(out + "/explaind");
    const nlohmann::json summary = nlohmann::json::parse(std::ifstream(out + "/explaind/summary.json"));
    fmt::print("replica max |error| {:.3g} (summary.json {:.3g}), mean {:.3g}, output scale {:.3g}, change {:.3g}\n",
               r.max_abs_error, summary["replica"]["max_abs_error"].get<double>(), r.mean_abs_error, r.output_scale,
               r.change_scale);
    require(std::abs(r.max_abs_error - summary["replica"]["max_abs_error"].get<double>()) <= 1e-12 * r.change_scale,
            "exercise 1 agrees with summary.json");

    // Exercise 2: the layers' influence per window, drawn as one bar chart.
    const std::vector<std::string> layers = {"embed.weight", "attn.qkv.weight", "attn.out.weight",
                                             "mlp.fc1.*",    "mlp.fc2.*",       "decoder.weight"};
    const nlohmann::json manifest = nlohmann::json::parse(std::ifstream(out + "/explaind/manifest.json"));
    std::vector<std::string> windows;
    for (const auto& w : manifest["axes"]["window"])  // [begin, end) steps
      windows.push_back(fmt::format("{}-{}", w[0].get<int64_t>(), w[1].get<int64_t>()));
    explaind::report::BarChart chart(windows);
    for (const std::string& layer : layers) {
      std::vector<double> net;
      for (const WindowShare& w : component_windows(out + "/explaind", layer)) net.push_back(w.data + w.decay);
      chart.add_series(layer, net);
    }
    chart.title("Each layer's net change of mean validation log p(label), per window (data + weight decay)")
        .xlabel("window (steps)")
        .ylabel("influence")
        .legend(explaind::report::LegendPosition::Outside)
        .size(1100, 600)
        .render(out + "/layer_windows.png");
    fmt::print("plot: {}/layer_windows.png (exercise 2); the report's own plots: {}/plots/*.png\n", out, out);
    fmt::print("\nThe real run (the paper's configuration, ~8 minutes on 2 cores): bash scripts/grokking.sh\n");
  } catch (const std::exception& e) {
    fmt::print(stderr, "lesson_08_grokking: {}\n", e.what());
    return 1;
  }
  return 0;
}
