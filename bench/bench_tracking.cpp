// What the explaind tracker costs over plain training, as ratios measured in one run. Four phases
// train the same model from the same initialisation over the same steps (a tracker attaches at
// step 0): plain, tracked at the cheap level (replica, step and component influence of every
// probe), at the sample level (data influence of the sample-level probes), at level 3 (sample x
// component and probe x parameter as well), plain again.
// Each phase's mean step time is divided by the mean of the two plain phases. Prints one JSON
// line per phase. These are the first steps of a run, whose large updates cross many ReLU kinks:
// the most expensive ones (docs/benchmarks.md gives whole-run figures next to them).
//
//   ./build/bench/bench_tracking --model grokking --threads 2 --steps 5
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>

#include "bench/workloads.hpp"
#include "explaind/tracker.hpp"
#include "tensor/parallel.hpp"

using namespace pathgrad;

namespace {

struct Phase {
  std::string name;
  double mean_s = 0, min_s = 0;
  std::string extra;  // further JSON fields
};

using MakeWorkload = std::function<std::unique_ptr<bench::Workload>()>;

// Mean and best seconds of `steps` training steps after `warmup` untimed ones.
Phase time_steps(const std::string& name, bench::Workload& w, int warmup, int steps) {
  for (int i = 0; i < warmup; ++i) w.step();
  Phase p{name, 0, 1e300, ""};
  for (int i = 0; i < steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    w.step();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    p.mean_s += s / steps;
    p.min_s = std::min(p.min_s, s);
  }
  return p;
}

// A plain phase on a fresh workload.
Phase plain(const std::string& name, const MakeWorkload& make, int warmup, int steps) {
  std::unique_ptr<bench::Workload> w = make();
  return time_steps(name, *w, warmup, steps);
}

// A tracked phase on a fresh workload: attaches a tracker, times the steps, finishes it (setup and
// finish() are timed apart). Level 1: cheap; 2: + per_sample; 3: + combinations. The sample
// levels track the sample-level probe set alone.
Phase tracked(const std::string& name, const MakeWorkload& make, int level, const std::string& dir, int warmup,
              int steps) {
  std::unique_ptr<bench::Workload> fresh = make();
  bench::Workload& w = *fresh;
  std::vector<explaind::ProbeSet> probes = w.probes;
  if (level >= 2) probes.resize(1);  // the sample-level set comes first
  std::shared_ptr<nn::Module> probe_model = w.make_probe_model();
  probe_model->to(DType::Float64);
  explaind::TrackerOptions options = explaind::TrackerOptions()
                                         .per_sample(level >= 2)
                                         .combinations(level >= 3)
                                         .probe_model(probe_model.get())
                                         .check_tolerance(1e-3)  // float32 training, float64 probes
                                         .output_dir(dir);
  const auto t0 = std::chrono::steady_clock::now();
  explaind::Tracker tracker(*w.model, *w.optimizer, *w.loader, bench::per_sample_nll, std::move(probes), options);
  const double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Phase p = time_steps(name, w, warmup, steps);
  const auto t1 = std::chrono::steady_clock::now();
  const explaind::Summary s = tracker.finish();
  const double finish = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  const explaind::Cost& c = tracker.cost();
  p.extra = fmt::format(
      ", \"probe_scalars\": {}, \"sample_level_probes\": {}, \"rule\": \"{}\", \"memory_gb\": {:.3f}, "
      "\"kernel_gflop_per_step\": {:.2f}, \"evaluations_per_step\": {:.1f}, \"setup_s\": {:.2f}, \"finish_s\": {:.2f}, "
      "\"replica_rel_error\": {:.3g}, \"sample_level_ms_per_step\": {:.1f}",
      c.probe_scalars, c.sample_level_probes, options.rule().name, c.memory_bytes / 1e9, c.kernel_flops_per_step / 1e9,
      static_cast<double>(s.gradient_evaluations) / std::max<int64_t>(1, s.steps), setup, finish,
      s.replica_max_abs_error / std::max(s.output_scale, 1e-300),
      1e3 * s.sample_level_seconds / static_cast<double>(std::max<int64_t>(1, s.steps)));
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("explaind tracking overhead over plain training, measured in one run (JSON lines)");
  std::string model = "grokking", out = (std::filesystem::temp_directory_path() / "pathgrad-bench-tracking").string();
  int threads = 1, steps = 5, warmup = 1;
  bool samples = true;
  bench::GrokkingSpec grok;
  bench::CnnSpec cnn;
  app.add_option("--model", model, "grokking or cnn")->check(CLI::IsMember({"grokking", "cnn"}));
  app.add_option("--threads", threads, "threads of OpenBLAS and of pathgrad's loops");
  app.add_option("--steps", steps, "timed steps per phase");
  app.add_option("--warmup", warmup, "untimed steps at the start of each phase");
  app.add_flag("--samples,!--no-samples", samples, "run the sample-level phases (levels 2 and 3)");
  app.add_option("--probes", grok.val_probes, "probes on the label's log-probability (cheap level)");
  app.add_option("--sample-probes", grok.sample_probes, "of those, the sample-level ones");
  app.add_option("--width", cnn.width,
                 "cnn: width w of the paper's ResNet-9 (64 = the paper's; examples/cifar2/model.hpp)");
  app.add_option("--batch", cnn.batch, "cnn: batch size");
  app.add_option("--n-train", cnn.n_train, "cnn: training images (the sample level keeps a buffer per image)");
  app.add_option("--data", cnn.data_dir, "cnn: CIFAR-10 binary directory");
  app.add_option("--out", out, "directory for the trackers' exports (overwritten)");
  CLI11_PARSE(app, argc, argv);
  cnn.probes = grok.val_probes;
  cnn.sample_probes = grok.sample_probes;

  set_num_threads(threads);
  const MakeWorkload make = [&] {
    return model == "grokking" ? bench::grokking_workload(grok) : bench::cnn_workload(cnn);
  };
  const std::string description = make()->description;
  std::filesystem::remove_all(out);
  std::vector<Phase> phases;
  phases.push_back(plain("plain", make, warmup, steps));
  phases.push_back(tracked("cheap", make, 1, out + "/cheap", warmup, steps));
  if (samples) {
    phases.push_back(tracked("samples", make, 2, out + "/samples", warmup, steps));
    phases.push_back(tracked("combinations", make, 3, out + "/combinations", warmup, steps));
  }
  phases.push_back(plain("plain_again", make, warmup, steps));
  const double plain = 0.5 * (phases.front().mean_s + phases.back().mean_s);
  for (const Phase& p : phases)
    std::cout << fmt::format(
        "{{\"model\": \"{}\", \"config\": \"{}\", \"threads\": {}, \"phase\": \"{}\", \"steps\": {}, \"step_ms_mean\": "
        "{:.2f}, "
        "\"step_ms_min\": {:.2f}, \"ratio_to_plain\": {:.3f}{}, \"machine\": \"{}\"}}\n",
        model, description, threads, p.name, steps, p.mean_s * 1e3, p.min_s * 1e3, p.mean_s / plain, p.extra,
        bench::machine_line());
  std::filesystem::remove_all(out);
  return 0;
}
