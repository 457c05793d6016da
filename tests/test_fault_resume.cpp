// Crash test of a tracked training run (the grokking example, examples/grokking, as a separate
// process): a tiny run is killed with SIGKILL at every fault point (tensor/fault_point.hpp: before
// each rename that installs a file or a checkpoint, before a temporary file is removed) and at
// random moments, then continued the way a user would — `--resume` when the run directory holds
// a run, the same command otherwise — until it finishes. Its outputs must be bit-identical to
// those of an uninterrupted run.
#include <doctest/doctest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "tests/grokking_process.hpp"

using namespace grokking_process;

namespace {

// The uninterrupted run without the report that both fault-point sweeps compare with (run once).
const std::string& sweep_reference() {
  static const std::string ref = [] {
    std::vector<std::string> args = kTinyRun;
    args.push_back("--no-report");
    const std::string dir = scratch("fault_reference");
    REQUIRE(run_once(dir, args, 0, 0).exit_code == 0);
    return dir;
  }();
  return ref;
}

}  // namespace

TEST_CASE("a tracked run killed at any fault point resumes to the uninterrupted run's outputs") {
  std::vector<std::string> args = kTinyRun;
  args.push_back("--no-report");
  const std::string& ref = sweep_reference();
  long points = 0;
  for (long n = 1;; ++n) {
    CAPTURE(n);
    const std::string out = scratch("fault_point");
    const Outcome o = run_once(out, args, n, 0);
    if (!o.killed) {  // n is past the run's last fault point
      REQUIRE(o.exit_code == 0);
      break;
    }
    ++points;
    finish_run(out, args);
    check_same_outputs(ref, out);
  }
  MESSAGE("killed at each of ", points, " fault points");
  CHECK(points >= 30);  // every checkpoint, weight file and export: the sweep really covered the run
}

TEST_CASE(
    "a tracked run whose disk fills up at any fault point stops with a message, and resumes once there is space") {
  std::vector<std::string> args = kTinyRun;
  args.push_back("--no-report");
  const std::string& ref = sweep_reference();
  long points = 0;
  for (long n = 1;; ++n) {
    CAPTURE(n);
    const std::string out = scratch("fault_disk");
    const Outcome o = run_once(out, args, n, 0, Fault::DiskFull);
    if (o.exit_code == 0) break;  // n is past the run's last fault point
    ++points;
    REQUIRE(o.exit_code == 1);
    const std::string log = read_file(out + ".log");
    CHECK_MESSAGE(log.find("No space left on device") != std::string::npos, log);
    finish_run(out, args);
    check_same_outputs(ref, out);
  }
  CHECK(points >= 30);
}

TEST_CASE("a tracked run with its report killed at random moments, twice, finishes with the same outputs") {
  const std::string ref = scratch("fault_report_reference");
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(run_once(ref, kTinyRun, 0, 0).exit_code == 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::mt19937 rng(12345);
  std::uniform_real_distribution<double> moment(0.05, 1.0);
  for (int trial = 0; trial < 6; ++trial) {
    CAPTURE(trial);
    const std::string out = scratch("fault_moment");
    const double first = moment(rng) * seconds, second = moment(rng) * seconds;
    CAPTURE(first);
    CAPTURE(second);
    const Outcome o = run_once(out, kTinyRun, 0, first);
    if (o.exit_code != 0) {
      REQUIRE(o.killed);
      finish_run(out, kTinyRun, second);  // the continued run is killed once more
    }
    check_same_outputs(ref, out);
  }
}
