// One grokking run end to end: data, model, optimizer, tracker, training (fresh or resumed),
// final exports, analyses and report. The program's main() and the end-to-end test call run().
#pragma once

#include <optional>
#include <string>

#include "examples/grokking/config.hpp"
#include "examples/grokking/training.hpp"
#include "explaind/summary.hpp"

namespace pathgrad::grokking {

struct RunResult {
  TrainingOutcome training;
  std::optional<explaind::Summary> summary;  // when tracked and finished
};

// Runs `config` in config.out (see RunDir for the files). `command_line` is recorded in the run
// directory and the report. Throws std::invalid_argument for a bad configuration or a run
// directory that does not fit (an existing run without --resume, --resume without a checkpoint
// or with other settings), std::runtime_error for I/O failures.
// Started by mpirun (optim::Communicator::world() has several ranks), every rank calls run() with
// the same config and trains its shards (config.shards, 0: one per rank); the tracker's sample
// level is sharded over the ranks in the same number of blocks, rank 0 alone integrates the
// probes and writes, and only its result has a summary (docs/scaling.md).
RunResult run(const Config& config, const std::string& command_line);

}  // namespace pathgrad::grokking
