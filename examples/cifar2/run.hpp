// One CIFAR-2 run end to end: data, model, optimizer, tracker, training (fresh or resumed),
// final exports and report. The program's main() and the end-to-end test call run().
//
// The run is a sequence of phases over one run directory: training (with the tracker attached),
// the trackers' exports, then the analyses (data influence, pruning) and the report.
#pragma once

#include <optional>
#include <string>

#include "examples/cifar2/config.hpp"
#include "examples/cifar2/training.hpp"
#include "explaind/summary.hpp"

namespace pathgrad::cifar2 {

struct RunResult {
  TrainingOutcome training;
  std::optional<explaind::Summary> summary;     // when tracked and finished
  std::optional<explaind::Summary> importance;  // the importance images' tracker (pruning)
};

// Runs `config` in config.out (see RunDir for the files). `command_line` is recorded in the run
// directory and the report. Throws std::invalid_argument for a bad configuration, a missing data
// directory or a run directory that does not fit (an existing run without --resume, --resume
// without a run or with other settings), std::runtime_error for I/O failures.
RunResult run(const Config& config, const std::string& command_line);

}  // namespace pathgrad::cifar2
