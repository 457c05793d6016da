// Data-parallel training and the sharded sample level over MPI ranks, end to end
// (docs/scaling.md): the grokking example's tiny tracked run (--track full: each rank holds the
// per-sample buffers of its half of the training samples) started by `mpirun -np 2
// --oversubscribe` (PATHGRAD_MPIRUN; built only with MPI) against the same run as one process with
// --shards 2. Every output but the timings must be bit-identical — weights at every checkpoint,
// metrics, the tracker's exports — also after the two-rank run is killed at a fault point and
// resumed, on two ranks or on one (the checkpoint holds one buffer file per block of samples).
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/grokking_process.hpp"

using namespace grokking_process;

namespace {

const Launcher& two_ranks() {
  static const Launcher launcher = [] {
    const char* mpirun = std::getenv("PATHGRAD_MPIRUN");
    REQUIRE_MESSAGE(mpirun != nullptr, "PATHGRAD_MPIRUN must name mpirun (tests/meson.build sets it)");
    return Launcher{mpirun, "-np", "2", "--oversubscribe"};
  }();
  return launcher;
}

std::vector<std::string> tiny_run(const std::vector<std::string>& more = {}) {
  std::vector<std::string> args = kTinyRun;
  args.push_back("--no-report");
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// The one-process run the two-rank runs must reproduce: its two shards computed one after the other.
const std::string& one_rank_reference() {
  static const std::string ref = [] {
    const std::string dir = scratch("mpi_one_rank");
    REQUIRE(run_once(dir, tiny_run({"--shards", "2"}), 0, 0).exit_code == 0);
    return dir;
  }();
  return ref;
}

// The log of a run that must have failed, with `message` in it.
void check_failed_saying(const std::string& out, const Outcome& o, const std::string& message) {
  CHECK(o.exit_code != 0);
  const std::string log = read_file(out + ".log");
  CHECK_MESSAGE(log.find(message) != std::string::npos, log);
}

}  // namespace

TEST_CASE("two ranks train bit-identically to one process with the same shards, tracker exports included") {
  const std::string out = scratch("mpi_two_ranks");
  // Unchanged flags: --shards defaults to one shard per rank, i.e. 2.
  const Outcome o = run_once(out, tiny_run(), 0, 0, Fault::Kill, two_ranks());
  INFO("the log: ", read_file(out + ".log"));
  REQUIRE(o.exit_code == 0);
  check_same_outputs(one_rank_reference(), out);
  // The sample level was sharded: each rank wrote its block of samples' buffers into the checkpoint.
  for (const char* block : {"sample_buffers_0_of_2", "sample_buffers_1_of_2"})
    CHECK(fs::exists(out + "/checkpoint/tracker/" + block + ".safetensors"));
}

TEST_CASE("a two-rank run killed at a fault point resumes, on two ranks or on one, to the same outputs") {
  // Fault points are rank 0's (the only writer): early (before the first checkpoint is installed),
  // mid-run and late (exports).
  for (const long point : {2L, 15L, 30L}) {
    for (const bool resume_on_two : {true, false}) {
      CAPTURE(point);
      CAPTURE(resume_on_two);
      const std::string out = scratch("mpi_killed");
      const std::vector<std::string> args = tiny_run({"--shards", "2"});
      const Outcome o = run_once(out, args, point, 0, Fault::Kill, two_ranks());
      REQUIRE_MESSAGE(o.exit_code != 0, "fault point ", point, " is past the run's last");
      finish_run(out, args, 0, resume_on_two ? two_ranks() : Launcher{});
      check_same_outputs(one_rank_reference(), out);
    }
  }
}

TEST_CASE("ranks started with different settings, or more ranks than shards, are refused naming what is wrong") {
  // An MPMD command line: rank 0 gets the tiny run, rank 1 (whose command run_once completes) another seed.
  const std::string out = scratch("mpi_mismatch");
  Launcher mpmd = {two_ranks()[0], "-np", "1", "--oversubscribe", grokking_binary()};
  const std::vector<std::string> first = tiny_run({"--out", out});
  mpmd.insert(mpmd.end(), first.begin(), first.end());
  mpmd.insert(mpmd.end(), {":", "-np", "1"});
  check_failed_saying(out, run_once(out, tiny_run({"--seed", "5"}), 0, 0, Fault::Kill, mpmd),
                      "ranks 0 and 1 differ in their settings (flags)");

  const std::string one_shard = scratch("mpi_one_shard");
  check_failed_saying(one_shard, run_once(one_shard, tiny_run({"--shards", "1"}), 0, 0, Fault::Kill, two_ranks()),
                      "--shards 1: a batch of 40 samples over 2 ranks needs between 2 and 40 shards");
  CHECK_FALSE(fs::exists(one_shard + "/config.json"));  // refused before anything was written
}
