// Plain training throughput: steps/s of the grokking transformer (AdamW, full batch) or the
// CIFAR-2 CNN (SGD + momentum), float32, at a given thread count. Prints one JSON line, the same
// fields as its PyTorch peer bench/train_peer.py; scripts/bench.sh runs both and tabulates the
// ratio (see docs/benchmarks.md).
//
//   ./build/bench/bench_train --model grokking --threads 2
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "bench/workloads.hpp"
#include "tensor/parallel.hpp"

using namespace pathgrad;

int main(int argc, char** argv) {
  CLI::App app("pathgrad plain-training throughput (one JSON line)");
  std::string model = "grokking";
  int threads = 1, steps = 10, reps = 5, warmup = 2;
  bench::GrokkingSpec grok;
  bench::CnnSpec cnn;
  app.add_option("--model", model, "grokking or cnn")->check(CLI::IsMember({"grokking", "cnn"}));
  app.add_option("--threads", threads, "threads of OpenBLAS and of pathgrad's loops");
  app.add_option("--steps", steps, "steps per timed repetition");
  app.add_option("--reps", reps, "timed repetitions; the best one counts");
  app.add_option("--warmup", warmup, "untimed steps first");
  app.add_option("--p", grok.p, "grokking: modulus");
  app.add_option("--n-train", grok.n_train, "grokking: training pairs (the full batch)");
  app.add_option("--width", cnn.width,
                 "cnn: width w of the paper's ResNet-9 (64 = the paper's; examples/cifar2/model.hpp)");
  app.add_option("--batch", cnn.batch, "cnn: batch size");
  app.add_option("--data", cnn.data_dir, "cnn: CIFAR-10 binary directory (cats and dogs are used)");
  CLI11_PARSE(app, argc, argv);

  set_num_threads(threads);
  std::unique_ptr<bench::Workload> w = model == "grokking" ? bench::grokking_workload(grok) : bench::cnn_workload(cnn);
  const double s = bench::best_seconds_per_call([&] { w->step(); }, warmup, steps, reps);
  const std::string config = model == "grokking" ? fmt::format("p={}, batch {}", grok.p, grok.n_train)
                                                 : fmt::format("width {}, batch {}", cnn.width, cnn.batch);
  std::cout << fmt::format(
      "{{\"impl\": \"pathgrad\", \"model\": \"{}\", \"config\": \"{}\", \"threads\": {}, \"parameters\": {}, "
      "\"step_ms\": {:.3f}, \"steps_per_s\": {:.4f}, \"machine\": \"{}\"}}\n",
      model, config, threads, w->model->num_parameters(), s * 1e3, 1.0 / s, bench::machine_line());
  return 0;
}
