// End-to-end test of the CIFAR-2 example (examples/cifar2): a tiny configuration (width 2, 256
// training images, 12 steps) trained, tracked and reported through the example's own run(); its
// outputs must exist and agree with each other (replica, step-wise and per-layer influence), and
// a paused and resumed run must continue bit for bit. Reads the data from $PATHGRAD_DATA.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "examples/cifar2/run.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/npy.hpp"
#include "tests/run_compare.hpp"

using namespace pathgrad;
using namespace pathgrad::cifar2;
namespace fs = std::filesystem;
namespace K = kernel;

namespace {

std::string data_dir() {
  const char* root = std::getenv("PATHGRAD_DATA");
  const std::string dir = std::string(root ? root : "../shared/data") + "/cifar10-catdog-bin";
  REQUIRE_MESSAGE(fs::is_directory(dir), "CIFAR-2 data not found at " << dir << " (set PATHGRAD_DATA; see ../shared/data/README.md)");
  return dir;
}

// 256 training images in batches of 64 (4 steps per epoch), 3 epochs: 12 steps; 6 probe images.
// Output in <temp dir>/pathgrad_test_cifar2_<name>, emptied first.
Config tiny(const std::string& name) {
  Config c;
  c.data_dir = data_dir();
  c.train_images = 256;
  c.width = 2;
  c.batch_size = 64;
  c.epochs = 3;
  c.peak_epoch = 1;
  c.checkpoint_every = 5;
  c.progress_every = 4;
  c.probes = 6;
  c.threads = 1;
  c.out = (fs::temp_directory_path() / ("pathgrad_test_cifar2_" + name)).string();
  fs::remove_all(c.out);
  return c;
}

Tensor array(const Config& c, const std::string& name) { return load_npy(c.out + "/explaind/" + name + ".npy").to(DType::Float64); }

double max_abs(const Tensor& t) { return K::amax(K::abs(t)).item(); }

}  // namespace

TEST_CASE("a tiny tracked CIFAR-2 run writes consistent exports and a complete report") {
  const Config c = tiny("tracked");
  const RunResult r = run(c, "cifar2 (test)");
  REQUIRE(r.summary.has_value());
  CHECK(r.training.steps == 12);
  CHECK(r.training.metrics.step.size() == 12);
  CHECK(r.training.metrics.epoch.size() == 4);  // the initial model and after each epoch

  // The kernel machine: replica = F(θ_0) + Σ_s step influence, to float64 rounding.
  const Tensor initial = array(c, "initial_outputs"), replica = array(c, "replica");      // [M]
  const Tensor steps = array(c, "step_influence");                                         // [S, M]
  CHECK(replica.shape() == Shape{12});                                                     // 6 images x 2 classes
  CHECK(steps.shape() == Shape{12, 12});
  const Tensor step_total = K::sum(steps, {0});                                            // [M]
  const double scale = max_abs(K::sub(replica, initial));
  CHECK(scale > 0);
  CHECK(max_abs(K::sub(replica, K::add(initial, step_total))) < 1e-12 * (1 + max_abs(initial)));
  // Per layer: the per-tensor components (data + weight decay) add up to the step-wise totals.
  const Tensor comp = K::add(array(c, "component_data"), array(c, "component_decay"));   // [M, 9]
  CHECK(comp.shape() == Shape{12, 9});
  CHECK(max_abs(K::sub(K::sum(comp, {1}), step_total)) < 1e-12 * (1 + scale));
  // Per epoch: the windows add up to the whole run.
  const Tensor windows = K::add(array(c, "component_window_data"), array(c, "component_window_decay"));  // [3, M, 9]
  CHECK(windows.shape() == Shape{3, 12, 9});
  CHECK(max_abs(K::sub(K::sum(windows, {0}), comp)) < 1e-12 * (1 + scale));
  const nlohmann::json s = nlohmann::json::parse(read_file(c.out + "/explaind/summary.json"));
  CHECK(s["marginal_mismatch"].get<double>() < 1e-10);

  for (const char* f : {"config.json", "command.txt", "metrics.csv", "epochs.csv", "timings.json",
                        "weights/step_000000.safetensors", "weights/step_000010.safetensors", "weights/final.safetensors",
                        "analyses/components.csv", "analyses/per_step.csv", "analyses/replica.csv", "report.html",
                        "report.md"})
    CHECK_MESSAGE(fs::exists(c.out + "/" + f), f);
  const std::string md = read_file(c.out + "/report.md");
  for (const char* plot : {"loss", "accuracy", "lr", "replica_scatter", "replica_error", "step_influence",
                           "cumulative_influence", "layers_cumulative", "layers_per_epoch", "layers_balance"})
    CHECK_MESSAGE(md.find(std::string("plots/") + plot + ".png") != std::string::npos, plot);
  CHECK(read_file(c.out + "/analyses/components.csv").find("\nres1.block2,res1.block2.conv.weight,") != std::string::npos);
  // training 3 + replica 2 or 3 (residuals when any) + step influence 2 + layers 3
  const int64_t figures = run_compare::check_report_figures(c.out);
  CHECK(figures >= 10);
  CHECK(figures <= 11);
}

TEST_CASE("a paused and resumed CIFAR-2 run continues bit for bit, tracker included") {
  const Config whole = tiny("whole");
  run(whole, "whole");
  const Config part = tiny("part");
  run_compare::run_paused_and_resumed(part, 7, 12, run);
  run_compare::check_same_weights(whole.out + "/weights/final.safetensors", part.out + "/weights/final.safetensors");
  CHECK(read_file(whole.out + "/metrics.csv") == read_file(part.out + "/metrics.csv"));
  CHECK(read_file(whole.out + "/epochs.csv") == read_file(part.out + "/epochs.csv"));
  for (const char* a : {"replica", "step_influence", "component_window_data", "residuals"})
    CHECK_MESSAGE(run_compare::max_abs_diff_npy(whole.out + "/explaind/" + a + ".npy",
                                                part.out + "/explaind/" + a + ".npy") == 0.0, a);
}

TEST_CASE("the CIFAR-2 run names the setting or path at fault") {
  Config c = tiny("errors");
  c.data_dir = c.out + "/no_such_dir";
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--data"), std::invalid_argument);
  c = tiny("errors");
  c.train_images = 20000;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--train-images"), std::invalid_argument);
  c = tiny("errors");
  c.peak_epoch = 3;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--peak-epoch"), std::invalid_argument);
  c = tiny("errors");
  c.track = TrackLevel::Off;
  c.epochs = 2;
  c.report = false;
  run(c, "x");
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--resume"), std::invalid_argument);
  c.resume = true;
  c.width = 3;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--width"), std::invalid_argument);
}
