// Replica error against gradient evaluations per step for every quadrature rule, with and
// without kink splitting and adaptive refinement (path-kernel.md §4, §4b): the same short float32
// training run (the tracker never changes the trajectory) is tracked once per configuration with
// a float64 probe model, and each run's summary gives the worst per-step residual, the final
// replica error against the model's outputs and the evaluations spent. One JSON line per run.
//
//   ./build/bench/bench_quadrature --model grokking --p 31 --steps 300
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "bench/workloads.hpp"
#include "explaind/quadrature.hpp"
#include "explaind/tracker.hpp"
#include "tensor/parallel.hpp"

using namespace pathgrad;

int main(int argc, char** argv) {
  CLI::App app("replica error against gradient evaluations per step, per quadrature rule (JSON lines)");
  std::string model = "grokking", out = (std::filesystem::temp_directory_path() / "pathgrad-bench-quadrature").string();
  std::vector<std::string> rules = {"midpoint:1", "midpoint:100",     "trapezoid",
                                    "simpson",    "gauss_legendre:2", "gauss_legendre:4"};
  std::vector<std::string> modes = {"plain", "kinks", "adaptive", "kinks+adaptive"};
  int threads = 1, steps = 300;
  double tolerance = 1e-9;
  bench::GrokkingSpec grok;
  grok.p = 31;
  grok.n_train = 300;
  grok.n_val = 196;
  grok.val_probes = 64;
  bench::CnnSpec cnn;
  cnn.width = 4;
  cnn.batch = 32;
  cnn.n_train = 256;
  cnn.probes = 32;
  app.add_option("--model", model, "grokking or cnn")->check(CLI::IsMember({"grokking", "cnn"}));
  app.add_option("--threads", threads, "threads of OpenBLAS and of pathgrad's loops");
  app.add_option("--steps", steps, "training steps of each tracked run");
  app.add_option("--rules", rules, "quadrature rules (explaind::parse_rule forms)");
  app.add_option("--modes", modes,
                 "plain, kinks (split at ReLU crossings), adaptive (halve to the tolerance), kinks+adaptive");
  app.add_option("--tolerance", tolerance, "adaptive refinement: per-step |residual| target (absolute)");
  app.add_option("--p", grok.p, "grokking: modulus");
  app.add_option("--n-train", grok.n_train, "grokking: training pairs (full batch); cnn: use --images");
  app.add_option("--n-val", grok.n_val, "grokking: validation pairs");
  app.add_option("--probes", grok.val_probes, "probe inputs (label's log-probability)");
  app.add_option("--width", cnn.width,
                 "cnn: width w of the paper's ResNet-9 (64 = the paper's; examples/cifar2/model.hpp)");
  app.add_option("--batch", cnn.batch, "cnn: batch size");
  app.add_option("--images", cnn.n_train, "cnn: training images");
  app.add_option("--data", cnn.data_dir, "cnn: CIFAR-10 binary directory");
  app.add_option("--out", out, "directory for the trackers' exports (overwritten)");
  CLI11_PARSE(app, argc, argv);
  grok.sample_probes = 1;
  cnn.probes = grok.val_probes;
  cnn.sample_probes = 1;
  set_num_threads(threads);

  for (const std::string& spec : rules)
    for (const std::string& mode : modes) {
      const bool kinks = mode.find("kinks") != std::string::npos, adaptive = mode.find("adaptive") != std::string::npos;
      std::unique_ptr<bench::Workload> w =
          model == "grokking" ? bench::grokking_workload(grok) : bench::cnn_workload(cnn);
      std::shared_ptr<nn::Module> probe_model = w->make_probe_model();
      probe_model->to(DType::Float64);
      std::filesystem::remove_all(out);
      const explaind::QuadratureRule rule = explaind::parse_rule(spec);
      explaind::Tracker tracker(*w->model, *w->optimizer, *w->loader, bench::per_sample_nll, w->probes,
                                explaind::TrackerOptions()
                                    .rule(rule)
                                    .kink_aware(kinks)
                                    .adaptive(adaptive)
                                    .tolerance(tolerance)
                                    .probe_model(probe_model.get())
                                    .output_dir(out));
      int64_t inputs = 0;
      for (const explaind::ProbeSet& set : w->probes) inputs += set.x.size(0);
      const auto t0 = std::chrono::steady_clock::now();
      for (int s = 0; s < steps; ++s) w->step();
      const explaind::Summary r = tracker.finish();
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double per_step = static_cast<double>(r.gradient_evaluations) / static_cast<double>(r.steps);
      std::cout << fmt::format(
          "{{\"model\": \"{}\", \"config\": \"{}\", \"rule\": \"{}\", \"mode\": \"{}\", \"nodes\": {}, \"steps\": {}, "
          "\"probe_inputs\": {}, \"evaluations_per_step\": {:.1f}, \"evaluations_per_input_step\": {:.3f}, "
          "\"residual_max\": {:.3g}, \"replica_max_abs_error\": {:.3g}, \"output_scale\": {:.4g}, \"relative_error\": "
          "{:.3g}, "
          "\"deepest_refinement\": {}, \"tracking_s_per_step\": {:.4f}, \"wall_s\": {:.1f}, \"machine\": \"{}\"}}\n",
          model, w->description, rule.name, mode, rule.nodes.size(), r.steps, inputs, per_step,
          per_step / static_cast<double>(inputs), r.residual_max, r.replica_max_abs_error, r.output_scale,
          r.replica_max_abs_error / std::max(r.output_scale, 1e-300), r.deepest_refinement,
          r.tracking_seconds / static_cast<double>(r.steps), wall, bench::machine_line());
      std::cout.flush();
    }
  std::filesystem::remove_all(out);
  return 0;
}
