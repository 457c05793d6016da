// End-to-end test of the CIFAR-2 example (examples/cifar2): a tiny configuration (width 2, 256
// training images, 12 steps, the samples level and the pruning experiment) trained, tracked and
// reported through the example's own run(); its outputs must exist and agree with each other
// (replica, step-wise, per-layer, per-sample and per-parameter influence), pruning must keep what
// it says and leave the model as it was, a paused and resumed run must continue bit for bit, and
// importance images tracked in chunks (reruns of the training) must give the one-pass score.
// Reads the data from $PATHGRAD_DATA.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "examples/cifar2/data.hpp"
#include "examples/cifar2/importance_chunks.hpp"
#include "examples/cifar2/probes.hpp"
#include "examples/cifar2/pruning.hpp"
#include "examples/cifar2/run.hpp"
#include "examples/cifar2/training_setup.hpp"
#include "explaind/param_layout.hpp"
#include "nn/serialize.hpp"
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
  REQUIRE_MESSAGE(fs::is_directory(dir),
                  "CIFAR-2 data not found at " << dir << " (set PATHGRAD_DATA; see ../shared/data/README.md)");
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
  c.track = TrackLevel::Samples;
  c.sample_probes = 2;
  c.importance_images = 20;
  c.threads = 1;
  c.out = (fs::temp_directory_path() / ("pathgrad_test_cifar2_" + name)).string();
  fs::remove_all(c.out);
  return c;
}

Tensor array(const Config& c, const std::string& name, const std::string& tracker = "explaind") {
  return load_npy(c.out + "/" + tracker + "/" + name + ".npy").to(DType::Float64);
}

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
  const Tensor initial = array(c, "initial_outputs"), replica = array(c, "replica");  // [M]
  const Tensor steps = array(c, "step_influence");                                    // [S, M]
  CHECK(replica.shape() == Shape{12});                                                // 6 images x 2 classes
  CHECK(steps.shape() == Shape{12, 12});
  const Tensor step_total = K::sum(steps, {0});  // [M]
  const double scale = max_abs(K::sub(replica, initial));
  CHECK(scale > 0);
  CHECK(max_abs(K::sub(replica, K::add(initial, step_total))) < 1e-12 * (1 + max_abs(initial)));
  // Per layer: the per-tensor components (data + weight decay) add up to the step-wise totals.
  const Tensor comp = K::add(array(c, "component_data"), array(c, "component_decay"));  // [M, 9]
  CHECK(comp.shape() == Shape{12, 9});
  CHECK(max_abs(K::sub(K::sum(comp, {1}), step_total)) < 1e-12 * (1 + scale));
  // Per epoch: the windows add up to the whole run.
  const Tensor windows = K::add(array(c, "component_window_data"), array(c, "component_window_decay"));  // [3, M, 9]
  CHECK(windows.shape() == Shape{3, 12, 9});
  CHECK(max_abs(K::sub(K::sum(windows, {0}), comp)) < 1e-12 * (1 + scale));
  // The sample level: each training image's term, the weight-decay part and the residuals add up
  // to the sample-level probes' change. The float32 optimizer's gradient and the float64 per-sample
  // shares (stored in float32 buffers) agree to float32 rounding of a 64-image batch sum, ~1e-5
  // relative (docs/explaind-exports.md): the marginal check allows 1e-4.
  const Tensor samples = array(c, "sample_data");  // [4, 256]: probe images 0 and 1, both classes
  CHECK(samples.shape() == Shape{4, 256});
  const nlohmann::json s = nlohmann::json::parse(read_file(c.out + "/explaind/summary.json"));
  CHECK(s["marginal_mismatch"].get<double>() < 1e-4);
  CHECK(s["linear_form_mismatch"].get<double>() < 1e-4);
  // The importance tracker: per-parameter terms (data and decay) add up to each importance image's
  // accounted change, to float64 rounding.
  const Tensor per_param = K::add(K::sum(array(c, "parameter_data", "explaind_importance"), {1}),
                                  K::sum(array(c, "parameter_decay", "explaind_importance"), {1}));  // [40]
  const Tensor accounted =
      K::add(array(c, "data_total", "explaind_importance"), array(c, "decay_total", "explaind_importance"));
  CHECK(per_param.shape() == Shape{40});
  CHECK(max_abs(K::sub(per_param, accounted)) < 1e-12 * (1 + max_abs(accounted)));
  CHECK_FALSE(fs::exists(c.out + "/explaind_importance/parameter_window_data.npy"));
  // 3 scores + 5 random seeds at 15 kept fractions.
  const std::string pruning = read_file(c.out + "/analyses/pruning.csv");
  CHECK(std::count(pruning.begin(), pruning.end(), '\n') == 1 + 8 * 15);

  for (const char* f :
       {"config.json", "command.txt", "metrics.csv", "epochs.csv", "timings.json", "weights/step_000000.safetensors",
        "weights/step_000010.safetensors", "weights/final.safetensors", "analyses/components.csv",
        "analyses/per_step.csv", "analyses/replica.csv", "analyses/proponents.csv", "analyses/pruning.csv",
        "report.html", "report.md"})
    CHECK_MESSAGE(fs::exists(c.out + "/" + f), f);
  const std::string md = read_file(c.out + "/report.md");
  for (const char* plot : {"loss", "accuracy", "lr", "replica_scatter", "replica_error", "step_influence",
                           "cumulative_influence", "layers_cumulative", "layers_per_epoch", "layers_balance",
                           "proponents_0", "proponents_1", "pruning_accuracy", "pruning_agreement", "pruning_kl"})
    CHECK_MESSAGE(md.find(std::string("plots/") + plot + ".png") != std::string::npos, plot);
  CHECK(read_file(c.out + "/analyses/components.csv").find("\nres1.block2,res1.block2.conv.weight,") !=
        std::string::npos);
  // training 3 + replica 2 or 3 (residuals when any) + step influence 2 + layers 3 + proponents 2
  // + pruning 3
  const int64_t figures = run_compare::check_report_figures(c.out);
  CHECK(figures >= 15);
  CHECK(figures <= 16);
}

TEST_CASE("a paused and resumed CIFAR-2 run continues bit for bit, tracker included") {
  const Config whole = tiny("whole");
  run(whole, "whole");
  const Config part = tiny("part");
  run_compare::run_paused_and_resumed(part, 7, 12, run);
  run_compare::check_same_weights(whole.out + "/weights/final.safetensors", part.out + "/weights/final.safetensors");
  CHECK(read_file(whole.out + "/metrics.csv") == read_file(part.out + "/metrics.csv"));
  CHECK(read_file(whole.out + "/epochs.csv") == read_file(part.out + "/epochs.csv"));
  for (const char* a : {"explaind/replica", "explaind/step_influence", "explaind/component_window_data",
                        "explaind/residuals", "explaind/sample_data", "explaind_importance/parameter_data"})
    CHECK_MESSAGE(run_compare::max_abs_diff_npy(whole.out + "/" + a + ".npy", part.out + "/" + a + ".npy") == 0.0, a);
  CHECK(read_file(whole.out + "/analyses/pruning.csv") == read_file(part.out + "/analyses/pruning.csv"));
}

TEST_CASE("the sample level does not depend on --sample-chunk beyond rounding") {
  auto sample_data = [](int64_t chunk) {
    Config c = tiny(fmt::format("chunk_{}", chunk));
    c.importance_images = 0;
    c.report = false;
    c.buffers = "float64";
    c.sample_chunk = chunk;
    run(c, "x");
    return array(c, "sample_data");
  };
  const Tensor whole = sample_data(256), chunked = sample_data(24);  // batch 64: one chunk; 24 + 24 + 16
  REQUIRE(whole.shape() == chunked.shape());
  // float64 per-sample gradients formed by GEMMs of other heights: each entry may round
  // differently (~1e-16 relative), over ~10^3-term sums and 12 steps: far below 1e-11.
  CHECK(max_abs(K::sub(whole, chunked)) <= 1e-11 * max_abs(whole));
}

TEST_CASE("the CIFAR-2 run names the setting or path at fault") {
  Config c = tiny("errors");
  c.data_dir = c.out + "/no_such_dir";
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--data"), std::invalid_argument);
  c = tiny("errors");
  c.train_images = 20000;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--train-images"), std::invalid_argument);
  c = tiny("errors");
  c.importance_images = 1600;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--importance-images"), std::invalid_argument);
  c = tiny("errors");
  c.sample_probes = 7;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--sample-probes"), std::invalid_argument);
  c = tiny("errors");
  c.sample_chunk = 0;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--sample-chunk"), std::invalid_argument);
  c = tiny("errors");
  c.peak_epoch = 3;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--peak-epoch"), std::invalid_argument);
  c = tiny("errors");
  c.track = TrackLevel::Off;
  c.importance_images = 0;
  c.epochs = 2;
  c.report = false;
  run(c, "x");
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--resume"), std::invalid_argument);
  c.resume = true;
  c.width = 3;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--width"), std::invalid_argument);
}

TEST_CASE("pruning keeps exactly the top weights by score, never the final Linear, and restores the model") {
  Config c = tiny("pruned");
  c.track = TrackLevel::Off;
  c.importance_images = 0;
  c.report = false;
  run(c, "x");
  ResNet9 model(c.width);
  nn::load_weights(model, c.out + "/weights/final.safetensors");
  const nn::data::ImageSplits d = load_data(c);
  const nn::data::ImageSet eval{K::narrow(d.test.images, 0, 1500, 500), K::narrow(d.test.labels, 0, 1500, 500)};
  const explaind::ParamLayout layout(model.named_parameters());
  const Tensor before = layout.flatten(model.named_parameters());
  const int64_t head = model.head->weight.numel(), prunable = layout.size() - head;
  // A score that ranks the weights by their flat index: the kept set is known in advance.
  std::vector<double> ramp(static_cast<size_t>(layout.size()));
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = -static_cast<double>(i);
  const std::vector<PruningScore> scores = {{"ramp", -1, Tensor::from_vector(ramp, {layout.size()})}};
  const std::vector<PruningPoint> points = prune_and_evaluate(model, scores, {1.0, 0.01}, eval);
  REQUIRE(points.size() == 2);
  CHECK(points[0].kept == prunable);  // everything kept: the unpruned model, exactly
  CHECK(points[0].agreement == 1.0);
  CHECK(points[0].kl == 0.0);
  CHECK(points[0].accuracy == unpruned_reference(model, eval).accuracy);
  CHECK(points[1].kept == std::llround(0.01 * static_cast<double>(prunable)));
  CHECK(points[1].agreement < 1.0);
  CHECK(max_abs(K::sub(layout.flatten(model.named_parameters()), before)) == 0.0);  // restored bit for bit
  // The pruned model itself: the first `kept` weights and the head survive, nothing else.
  layout.assign(K::mul(before, keep_mask(layout, prune_order(layout, scores[0].score), points[1].kept)),
                model.named_parameters());
  const Tensor after = layout.flatten(model.named_parameters());
  const std::vector<double> w = after.to_vector(), w0 = before.to_vector();
  int64_t survivors = 0;
  for (size_t i = 0; i < w.size(); ++i) survivors += w[i] != 0 ? 1 : 0;
  const int64_t head_offset = layout.offset(layout.index("head.weight"));
  CHECK(survivors <= points[1].kept + head);
  for (int64_t i = 0; i < points[1].kept; ++i) CHECK(w[static_cast<size_t>(i)] == w0[static_cast<size_t>(i)]);
  for (int64_t i = head_offset; i < head_offset + head; ++i)
    CHECK(w[static_cast<size_t>(i)] == w0[static_cast<size_t>(i)]);
}

TEST_CASE("importance images in chunks: each rerun retraces the training, the EPK score is the one-pass score") {
  // 20 importance images in one pass, and in chunks of 8 (8, 8, 4: two reruns of the training),
  // paused after step 7 of the training pass and of each rerun, resumed each time.
  Config one = tiny("importance_one_pass");
  one.track = TrackLevel::Off;
  one.report = false;
  run(one, "one pass");
  Config chunked = tiny("importance_chunked");
  chunked.track = TrackLevel::Off;
  chunked.report = false;
  chunked.importance_chunk = 8;
  chunked.stop_after = 7;
  int sessions = 0;
  for (bool paused = true; paused && sessions < 10; ++sessions, chunked.resume = true)
    paused = run(chunked, "chunked").training.interrupted;
  CHECK(sessions == 4);  // the training pass, then each of the two reruns, paused once each
  run_compare::check_same_weights(one.out + "/weights/final.safetensors", chunked.out + "/weights/final.safetensors");
  const ImportanceChunks chunks{20, 8};
  const Tensor whole = array(one, "parameter_data", "explaind_importance");  // [40, P]
  const RunDir dir{chunked.out};
  for (int64_t k = 0; k < 3; ++k) {
    INFO("chunk " << k);
    CHECK_FALSE(fs::exists(dir.importance_checkpoint(k)));
    const Tensor rows = load_npy(dir.importance(k) + "/parameter_data.npy").to(DType::Float64);
    REQUIRE(rows.shape() == Shape{2 * chunks.length(k), whole.size(1)});
    // Other trackers, other batches of probe rows: the same numbers up to float64 rounding.
    const Tensor same = K::narrow(whole, 0, 2 * chunks.first(k), 2 * chunks.length(k));
    CHECK(max_abs(K::sub(rows, same)) <= 1e-12 * max_abs(same));
  }
  ResNet9 model(one.width);
  const std::vector<std::string> names = explaind::ParamLayout(model.named_parameters()).names();
  const Tensor single = epk_score(RunDir{one.out}, ImportanceChunks{20, 20}, names);
  const Tensor summed = epk_score(dir, chunks, names);
  CHECK(max_abs(K::sub(single, summed)) <= 1e-12 * max_abs(single));
  CHECK(max_abs(single) > 0);
}

TEST_CASE("a chunk's rerun that does not retrace the training stops the run, naming the weights file") {
  Config c = tiny("importance_diverged");
  c.track = TrackLevel::Off;
  c.report = false;
  c.importance_chunk = 10;
  c.stop_after = 7;
  run(c, "first");  // paused in the training pass
  c.resume = true;
  CHECK(run(c, "second").training.interrupted);  // the training pass ends; chunk 1's rerun pauses
  // Put the initial weights into the paused rerun's checkpoint: it continues from other weights
  // and cannot end where the training pass did.
  fs::copy_file(c.out + "/weights/step_000000.safetensors",
                RunDir{c.out}.importance_checkpoint(1) + "/model.safetensors", fs::copy_options::overwrite_existing);
  CHECK_THROWS_WITH_AS(run(c, "third"), doctest::Contains("weights/final.safetensors"), std::runtime_error);
}

TEST_CASE("the importance chunk is the largest that fits the memory budget") {
  Config c = tiny("importance_budget");
  c.track = TrackLevel::Off;
  const nn::data::ImageSplits d = load_data(c);
  TrainingSetup setup(c, d);
  auto bytes = [&](int64_t images) {
    return explaind::Tracker::estimate(*setup.model, setup.optimizer, setup.loader,
                                       {importance_probe_set(d.test, 0, images)},
                                       setup.tracker_options(importance_options(c), "", ""))
        .memory_bytes;
  };
  c.memory_budget_gb = (bytes(7) + bytes(8)) / 2 / 1e9;  // 7 images fit, 8 do not
  CHECK(plan_importance_chunks(c, setup, d.test).size == 7);
  CHECK(plan_importance_chunks(c, setup, d.test).count() == 3);  // 20 images: 7, 7, 6
  c.memory_budget_gb = 1e3;
  CHECK(plan_importance_chunks(c, setup, d.test).size == 20);
  c.memory_budget_gb = bytes(1) / 2 / 1e9;
  CHECK_THROWS_WITH_AS(plan_importance_chunks(c, setup, d.test), doctest::Contains("--memory-budget"),
                       std::invalid_argument);
}
