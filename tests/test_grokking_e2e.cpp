// End-to-end test of the grokking example (examples/grokking): a tiny configuration trained,
// tracked and reported through the example's own run(); its outputs must exist and agree with
// each other (replica, marginals, report, plots), and a paused and resumed run must continue bit
// for bit.
#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "examples/common/checkpoint_pacing.hpp"
#include "examples/grokking/run.hpp"
#include "nn/init.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/npy.hpp"
#include "tests/grokking_tiny.hpp"
#include "tests/run_compare.hpp"

using namespace pathgrad;
using namespace pathgrad::grokking;
namespace fs = std::filesystem;

namespace {

using grokking_test::tiny;

using run_compare::check_report_figures;
using run_compare::check_same_weights;
using run_compare::max_abs_diff_npy;

}  // namespace

TEST_CASE("a tiny tracked grokking run writes consistent exports, analyses and a complete report") {
  const Config c = tiny("full", TrackLevel::Full, 14);
  const RunResult r = run(c, "grokking --p 11 (test)");
  REQUIRE(r.summary.has_value());
  const int64_t steps = r.training.steps;
  CHECK(steps == 14);
  CHECK(r.training.metrics.size() == static_cast<size_t>(steps + 1));

  // summary.json: the kernel machine reproduces the model; every marginal adds up.
  const nlohmann::json s = nlohmann::json::parse(read_file(c.out + "/explaind/summary.json"));
  CHECK(s["steps"] == steps);
  const double scale = s["replica"]["output_scale"];
  CHECK(scale > 0.1);
  CHECK(s["replica"]["max_abs_error"].get<double>() < 1e-5 * scale);
  CHECK(s["marginal_mismatch"].get<double>() < 1e-4);
  // The 3 probes on all 11 outputs: the replica's softmax agrees with the model's.
  CHECK(s["replica"]["argmax_agreement"].get<double>() == 1.0);
  CHECK(s["replica"]["mean_kl"].get<double>() >= 0.0);
  CHECK(s["replica"]["mean_kl"].get<double>() < 1e-8);
  // The tensor memory measured around the tracked steps holds at least the per-sample buffers.
  CHECK(s["cost_spent"]["peak_tensor_bytes"].get<double>() >= s["cost_estimate"]["buffer_bytes"].get<double>());
  CHECK(s["cost_estimate"]["buffer_bytes"].get<double>() > 0);

  // Exports the analyses rely on, with the head components and the window edges.
  const nlohmann::json manifest = nlohmann::json::parse(read_file(c.out + "/explaind/manifest.json"));
  std::vector<std::string> components;
  for (const auto& comp : manifest["axes"]["component"]) components.push_back(comp["name"]);
  for (const char* name : {"embed.weight", "attn.qkv.weight", "attn.out.weight", "mlp.fc1.*", "mlp.fc2.*",
                           "decoder.weight", "attn.head0", "attn.head1"})
    CHECK(std::count(components.begin(), components.end(), name) == 1);
  CHECK(manifest["axes"]["window"].size() == 3);
  const Tensor window_params = load_npy(c.out + "/explaind/parameter_window_data.npy");
  CHECK(window_params.shape() == Shape{3, 6,
                                       manifest["axes"]["parameter"].back()["offset"].get<int64_t>() +
                                           numel(manifest["axes"]["parameter"].back()["shape"].get<Shape>())});

  // Run directory: split, weights, metrics, analyses, timings.
  for (const char* f :
       {"config.json", "command.txt", "split.csv", "metrics.csv", "timings.json", "weights/step_000000.safetensors",
        "weights/step_000010.safetensors", "weights/final.safetensors", "analyses/components.csv", "analyses/heads.csv",
        "analyses/swap.csv", "analyses/per_step.csv", "report.html", "report.md"})
    CHECK_MESSAGE(fs::exists(c.out + "/" + f), f);
  const nlohmann::json timings = nlohmann::json::parse(read_file(c.out + "/timings.json"));
  CHECK(timings["checkpoint_seconds"].get<double>() > 0);  // the checkpoints at steps 10 and 14
  CHECK(timings["checkpoint_seconds"].get<double>() < timings["training_seconds"].get<double>());
  std::ifstream metrics(c.out + "/metrics.csv");
  int64_t lines = 0;
  for (std::string line; std::getline(metrics, line);) ++lines;
  CHECK(lines == steps + 2);  // header + steps 0..S

  // Every figure the report shows exists, and every kind of analysis is there.
  const std::string md = read_file(c.out + "/report.md");
  const int64_t figures = check_report_figures(c.out);
  for (const char* plot :
       {"accuracy", "loss", "replica_scatter", "cumulative_influence", "components_layers", "balance_heads",
        "similarity_mlp_fc1_0_14", "data_influence_0_14", "swap_accuracy", "swap_kl"})
    CHECK_MESSAGE(md.find(std::string("plots/") + plot + ".png") != std::string::npos, plot);
  // training 2 + replica 5 + components 4 + similarity 6 x 4 + data influence 4 + swap 2
  CHECK(figures == 2 + 5 + 4 + 24 + 4 + 2);
}

TEST_CASE("a checkpoint offered is written once the time since the last is 20 times its write time") {
  const optim::Communicator& one = optim::Communicator::world();  // a single rank here
  examples::CheckpointPacing pacing;
  CHECK(pacing.due(0.0, one));  // the first offer
  CHECK_FALSE(pacing.holds(50));
  CHECK(pacing.wrote(50, 10.0, 12.0) == 2.0);  // took 2 s
  CHECK(pacing.holds(50));
  CHECK_FALSE(pacing.due(12.0 + 39.9, one));
  CHECK(pacing.due(12.0 + 40.0, one));
  pacing.wrote(100, 60.0, 60.001);  // a small checkpoint: every offer
  CHECK_FALSE(pacing.holds(50));
  CHECK(pacing.due(60.1, one));
}

TEST_CASE("the cheap tracker level draws the similarity matrices and says how to get the data influence") {
  const Config c = tiny("cheap", TrackLevel::Cheap, 10);
  const RunResult r = run(c, "grokking --p 11 --track cheap (test)");
  REQUIRE(r.summary.has_value());
  CHECK(r.summary->replica_max_abs_error < 1e-5 * r.summary->output_scale);
  CHECK(fs::exists(c.out + "/explaind/parameter_window_data.npy"));
  CHECK_FALSE(fs::exists(c.out + "/explaind/sample_data.npy"));
  const std::string md = read_file(c.out + "/report.md");
  CHECK(md.find("plots/similarity_mlp_fc1_0_10.png") != std::string::npos);
  CHECK(md.find("plots/data_influence") == std::string::npos);
  CHECK(md.find("needs --track samples") != std::string::npos);
}

TEST_CASE("a paused and resumed grokking run continues bit for bit, tracker included") {
  for (TrackLevel track : {TrackLevel::Off, TrackLevel::Full}) {
    INFO(track_level_name(track));
    const std::string level = track_level_name(track);
    const Config whole = tiny("whole_" + level, track, 12);
    run(whole, "whole");
    const Generator::State generator_after_whole = nn::default_generator().state();
    const Config part = tiny("part_" + level, track, 12);
    run_compare::run_paused_and_resumed(part, 7, 12, run);
    // The default generator continues the same stream: nothing draws from it after the checkpoint
    // restores it (the probe model is built before), so anything drawing later gets the same numbers.
    CHECK(nn::default_generator().state().s == generator_after_whole.s);
    check_same_weights(whole.out + "/weights/final.safetensors", part.out + "/weights/final.safetensors");
    CHECK(read_file(whole.out + "/metrics.csv") == read_file(part.out + "/metrics.csv"));
    if (track == TrackLevel::Full)
      for (const char* a :
           {"replica", "sample_data", "parameter_window_data", "component_window_data", "step_influence"})
        CHECK_MESSAGE(
            max_abs_diff_npy(whole.out + "/explaind/" + a + ".npy", part.out + "/explaind/" + a + ".npy") == 0.0, a);
  }
}

TEST_CASE("the grokking run names the setting at fault") {
  Config c = tiny("errors", TrackLevel::Off, 3);
  c.p = 1;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--p"), std::invalid_argument);
  c = tiny("errors", TrackLevel::Off, 3);
  c.sample_probes = 50;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--sample-probes"), std::invalid_argument);
  c = tiny("errors", TrackLevel::Off, 3);
  c.report = false;
  run(c, "x");
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--resume"), std::invalid_argument);
  c.resume = true;
  c.seed = 5;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("--seed"), std::invalid_argument);
}

TEST_CASE("a diverging run stops at the first non-finite loss and says so") {
  // AdamW's decoupled decay multiplies the weights by 1 - lr * wd = -999 per step: float32
  // overflows within a few steps.
  Config c = tiny("diverging", TrackLevel::Cheap, 40);
  c.lr = 1000;
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("training has diverged (--lr 1000 is too large?)"),
                       std::runtime_error);
  CHECK_FALSE(fs::exists(c.out + "/explaind/summary.json"));
}

TEST_CASE("a run stopped before its first checkpoint: a fresh start says to --resume, which starts it again") {
  Config c = tiny("no_checkpoint", TrackLevel::Off, 4);
  c.report = false;
  fs::create_directories(c.out);
  write_file_atomically(c.out + "/config.json", to_json(c).dump(2));  // what a run killed early leaves
  CHECK_THROWS_WITH_AS(run(c, "x"), doctest::Contains("stopped before its first checkpoint"), std::invalid_argument);
  c.resume = true;
  CHECK(run(c, "x").training.steps == 4);
}

TEST_CASE("numeric flags are read exactly or rejected naming the flag, never wrapped or saturated") {
  auto parse = [](std::vector<std::string> args) {
    Config c;
    CLI::App app;
    add_flags(app, c);
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last to first
    app.parse(args);
    return c;
  };
  CHECK(parse({"--seed", "18446744073709551615"}).seed == 18446744073709551615ull);
  CHECK(parse({"--steps", "9223372036854775807"}).steps == 9223372036854775807);
  CHECK(parse({"--lr", "1e-3"}).lr == 1e-3);
  CHECK(parse({"--window-edges", "3,7"}).window_edges == std::vector<int64_t>{3, 7});
  const std::pair<std::vector<std::string>, std::string> bad[] = {
      {{"--seed", "18446744073709551616"}, "--seed: 18446744073709551616 is out of range"},
      {{"--seed", "-1"}, "--seed: -1 is not a non-negative whole number"},
      {{"--split-seed", "2.5"}, "--split-seed: 2.5 is not a non-negative whole number"},
      {{"--steps", "99999999999999999999"}, "--steps: 99999999999999999999 is out of range"},
      {{"--threads", "3000000000"}, "--threads: 3000000000 is out of range"},
      {{"--lr", "1e999"}, "--lr: 1e999 is not a finite number"},
      {{"--tolerance", "nan"}, "--tolerance: nan is not a finite number"},
      {{"--window-edges", "4,x"}, "--window-edges: x is not a whole number"}};
  for (const auto& [args, message] : bad) {
    CAPTURE(args[0]);
    CHECK_THROWS_WITH_AS(parse(args), doctest::Contains(message.c_str()), CLI::ValidationError);
  }
}
