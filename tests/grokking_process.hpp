// Runs of the grokking example (examples/grokking) as separate processes, for the end-to-end tests
// of crashes and of MPI ranks: a tiny tracked run, started once (optionally killed at a fault
// point or after a time, optionally on several ranks), continued with --resume as a user would,
// and its outputs compared with another run's bit for bit.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tensor/atomic_file.hpp"

extern char** environ;

namespace grokking_process {

namespace fs = std::filesystem;
using pathgrad::read_file;

// p = 11, 8 steps, a checkpoint every 3 steps (so also one at the end that is not on the grid),
// every tracker level, a window edge: about 40 fault points without the report, 60 with it.
inline const std::vector<std::string> kTinyRun = {"--p",
                                                  "11",
                                                  "--n-train",
                                                  "40",
                                                  "--n-val",
                                                  "20",
                                                  "--d-model",
                                                  "16",
                                                  "--heads",
                                                  "2",
                                                  "--d-head",
                                                  "8",
                                                  "--d-mlp",
                                                  "32",
                                                  "--lr",
                                                  "1e-2",
                                                  "--weight-decay",
                                                  "1",
                                                  "--steps",
                                                  "8",
                                                  "--checkpoint-every",
                                                  "3",
                                                  "--progress-every",
                                                  "100",
                                                  "--track",
                                                  "full",
                                                  "--val-probes",
                                                  "20",
                                                  "--sample-probes",
                                                  "6",
                                                  "--train-probes",
                                                  "5",
                                                  "--output-probes",
                                                  "3",
                                                  "--window-edges",
                                                  "4",
                                                  "--threads",
                                                  "1"};

inline std::string grokking_binary() {
  const char* path = std::getenv("PATHGRAD_GROKKING");
  REQUIRE_MESSAGE(path != nullptr, "PATHGRAD_GROKKING must name the grokking executable (tests/meson.build sets it)");
  return path;
}

struct Outcome {
  bool killed = false;  // by SIGKILL (a fault point or the test's timer)
  int exit_code = -1;
};

// Which fault a run gets at its chosen fault point (tensor/fault_point.hpp).
enum class Fault { Kill, DiskFull };

// The program and flags that start the example on several ranks (empty: one process), e.g.
// {"/usr/bin/mpirun", "-np", "2", "--oversubscribe"}.
using Launcher = std::vector<std::string>;

// Runs the grokking example once with `args`, its output appended to <out>.log. At its
// `fault_point`-th fault point (0: never) it is killed or its write fails as on a full disk;
// killed after `kill_after` seconds unless 0 (not with a launcher: its ranks would outlive it).
inline Outcome run_once(const std::string& out, std::vector<std::string> args, long fault_point, double kill_after,
                        Fault fault = Fault::Kill, const Launcher& launcher = {}) {
  REQUIRE((launcher.empty() || kill_after == 0));
  args.insert(args.begin(), grokking_binary());
  args.insert(args.begin(), launcher.begin(), launcher.end());
  args.insert(args.end(), {"--out", out});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (std::string(*e).rfind("PATHGRAD_", 0) != 0 || std::string(*e).find("_AT_FAULT_POINT=") == std::string::npos)
      env_strings.emplace_back(*e);
  const char* variable = fault == Fault::Kill ? "PATHGRAD_KILL_AT_FAULT_POINT=" : "PATHGRAD_FAIL_AT_FAULT_POINT=";
  if (fault_point > 0) env_strings.push_back(variable + std::to_string(fault_point));
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = out + ".log";
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);

  int status = 0;
  const auto start = std::chrono::steady_clock::now();
  while (waitpid(pid, &status, kill_after > 0 ? WNOHANG : 0) == 0) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= kill_after) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Outcome o;
  o.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

// Continues an interrupted run as a user would, until it exits 0 (at most three tries; each
// may itself be killed after `kill_after` seconds when that is positive).
inline void finish_run(const std::string& out, const std::vector<std::string>& args, double kill_after = 0,
                       const Launcher& launcher = {}) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<std::string> a = args;
    if (fs::exists(out + "/config.json")) a.push_back("--resume");
    const Outcome o = run_once(out, a, 0, attempt == 0 ? kill_after : 0, Fault::Kill, launcher);
    if (o.exit_code == 0) return;
    INFO("the log: ", read_file(out + ".log"));
    REQUIRE_MESSAGE(o.killed, "the continued run failed with exit code ", o.exit_code);
  }
  FAIL("the run did not finish in three tries");
}

// A JSON output without what differs between runs by design: the time it took, the memory it
// measured (per process) and the cost estimate, which is per rank (summary.json), and the output
// directory (config.json).
inline nlohmann::json without_time_and_place(const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(read_file(path));
  if (j.contains("cost_spent")) {
    j["cost_spent"].erase("tracking_seconds");
    j["cost_spent"].erase("sample_level_seconds");
    j["cost_spent"].erase("peak_tensor_bytes");
  }
  j.erase("cost_estimate");
  j.erase("output");
  return j;
}

// Every output that does not record time (timings, report, command history, the checkpoint's
// clock) is bit-identical in `out` and in the uninterrupted run `ref`; no stream is left open.
inline void check_same_outputs(const std::string& ref, const std::string& out) {
  for (const auto& entry : fs::recursive_directory_iterator(ref)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), ref).string();
    if (rel.rfind("checkpoint/", 0) == 0 || rel.rfind("plots/", 0) == 0 || rel == "timings.json" ||
        rel == "command.txt" || rel.rfind("report.", 0) == 0)
      continue;
    INFO("file ", rel);
    REQUIRE(fs::exists(out + "/" + rel));
    if (rel == "explaind/summary.json" || rel == "config.json")
      CHECK(without_time_and_place(entry.path().string()) == without_time_and_place(out + "/" + rel));
    else
      CHECK(read_file(entry.path().string()) == read_file(out + "/" + rel));
  }
  for (const auto& entry : fs::directory_iterator(out + "/explaind"))
    CHECK_MESSAGE(entry.path().extension() != ".part", entry.path().string(), " left behind");
}

// <temp dir>/pathgrad_test_<name>, removed with its log.
inline std::string scratch(const std::string& name) {
  const std::string dir = (fs::temp_directory_path() / ("pathgrad_test_" + name)).string();
  fs::remove_all(dir);
  fs::remove(dir + ".log");
  return dir;
}

}  // namespace grokking_process
