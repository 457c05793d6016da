// Data-parallel training of the CIFAR-2 example over MPI ranks, end to end (docs/scaling.md): a
// tiny tracked run with the pruning experiment in two importance chunks (one rerun of the
// training), started by `mpirun -np 2 --oversubscribe` with unchanged flags, paused in the
// training pass and in the rerun and resumed, against the same run as one process with
// --shards 2: weights, metrics and every tracker export bit-identical. Built only with MPI;
// PATHGRAD_MPIRUN, PATHGRAD_CIFAR2 and PATHGRAD_DATA come from tests/meson.build.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tensor/atomic_file.hpp"

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  REQUIRE_MESSAGE(v != nullptr, name << " must be set (tests/meson.build sets it)");
  return v;
}

std::string scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("pathgrad_test_mpi_cifar2_" + name);
  fs::remove_all(dir);
  return dir.string();
}

// The experiments of the tiny runs: pruning with 20 importance images in chunks of 10 (the
// default tracker level), or the sample level (each rank holding the buffers of its half of the
// training images) without pruning.
const std::string kPruning = " --importance-images 20 --importance-chunk 10";
const std::string kSampleLevel = " --importance-images 0 --track samples --sample-probes 2";

// 256 training images, width 2, batches of 64 (12 steps, checkpoints every 5), 4 probes.
std::string tiny_run(const std::string& out, const std::string& more = "", const std::string& experiment = kPruning) {
  return env("PATHGRAD_CIFAR2") + " --data " + env("PATHGRAD_DATA") + "/cifar10-catdog-bin --train-images 256" +
         " --width 2 --batch 64 --epochs 3 --peak-epoch 1 --probes 4" + experiment +
         " --checkpoint-every 5 --threads 1 --no-report --out " + out + " " + more;
}

std::string two_ranks(const std::string& command) {
  return env("PATHGRAD_MPIRUN") + " -np 2 --oversubscribe --bind-to none " + command;
}

// Runs `command` with its output in <out>.log; returns its exit status.
int run(const std::string& command, const std::string& out) {
  return std::system((command + " > " + out + ".log 2>&1").c_str());
}

const std::vector<std::string> kPruningOutputs = {"weights/final.safetensors",
                                                  "weights/step_000010.safetensors",
                                                  "metrics.csv",
                                                  "epochs.csv",
                                                  "explaind/replica.npy",
                                                  "explaind/step_influence.npy",
                                                  "explaind/component_data.npy",
                                                  "explaind_importance/parameter_data.npy",
                                                  "explaind_importance_1/parameter_data.npy"};
const std::vector<std::string> kSampleLevelOutputs = {"weights/final.safetensors", "metrics.csv",
                                                      "explaind/replica.npy",      "explaind/step_influence.npy",
                                                      "explaind/sample_data.npy",  "explaind/sample_window_data.npy",
                                                      "explaind/sample_decay.npy"};

void check_same_outputs(const std::string& ref, const std::string& out,
                        const std::vector<std::string>& files = kPruningOutputs) {
  for (const std::string& f : files) {
    INFO(f);
    REQUIRE(fs::exists(out + "/" + f));
    CHECK(pathgrad::read_file(ref + "/" + f) == pathgrad::read_file(out + "/" + f));
  }
}

}  // namespace

TEST_CASE("two ranks run the CIFAR-2 example bit-identically to one process with the same shards") {
  const std::string ref = scratch("one_rank");
  REQUIRE(run(tiny_run(ref, "--shards 2"), ref) == 0);
  // Paused after step 7 of the training pass, then of the rerun of chunk 1; resumed each time.
  const std::string out = scratch("two_ranks");
  int sessions = 0, status = 1;
  for (std::string resume; status != 0 && sessions < 5; ++sessions, resume = " --resume")
    status = run(two_ranks(tiny_run(out, "--stop-after 7" + resume)), out);
  INFO("the last log: " << pathgrad::read_file(out + ".log"));
  CHECK(status == 0);
  CHECK(sessions == 3);
  CHECK_FALSE(fs::exists(out + "/checkpoint_importance_1"));
  check_same_outputs(ref, out);
}

TEST_CASE("the sample level sharded over two ranks, paused and resumed, equals one process bit for bit") {
  const std::string ref = scratch("samples_one_rank");
  REQUIRE(run(tiny_run(ref, "--shards 2", kSampleLevel), ref) == 0);
  const std::string out = scratch("samples_two_ranks");
  CHECK(run(two_ranks(tiny_run(out, "--stop-after 7", kSampleLevel)), out) != 0);  // paused after step 7
  for (const char* block : {"sample_buffers_0_of_2", "sample_buffers_1_of_2"})     // one file per rank's block
    CHECK(fs::exists(out + "/checkpoint/tracker/" + block + ".safetensors"));
  const int status = run(two_ranks(tiny_run(out, "--resume", kSampleLevel)), out);
  INFO("the last log: " << pathgrad::read_file(out + ".log"));
  REQUIRE(status == 0);
  CHECK(pathgrad::read_file(out + ".log").find("sample level over 2 ranks, at most 128 training samples each") !=
        std::string::npos);
  check_same_outputs(ref, out, kSampleLevelOutputs);
}

TEST_CASE("more ranks than shards are refused naming --shards, before anything is written") {
  const std::string out = scratch("one_shard");
  CHECK(run(two_ranks(tiny_run(out, "--shards 1")), out) != 0);
  CHECK(pathgrad::read_file(out + ".log").find("--shards 1") != std::string::npos);
  CHECK_FALSE(fs::exists(out + "/config.json"));
}
