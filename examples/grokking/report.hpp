// The report of a grokking run: runs the analyses on the run directory's outputs, renders every
// plot and writes report.html and report.md (explaind/report).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "examples/grokking/config.hpp"
#include "examples/grokking/probes.hpp"
#include "examples/grokking/run_dir.hpp"
#include "examples/grokking/training.hpp"
#include "explaind/summary.hpp"

namespace pathgrad::grokking {

struct ReportInputs {
  const Config& config;
  const std::string& command_line;
  const RunDir& dir;
  const nn::data::ModularData& data;
  const ProbeChoice& probes;
  const TrainingOutcome& training;
  const std::optional<explaind::Summary>& summary;  // absent with --track off
  std::string cost_report;                          // Tracker::cost_report(), empty when untracked
  std::chrono::steady_clock::time_point session_start;
};

// Writes <run>/report.html, report.md, plots/*.png, analyses/*.csv and timings.json.
void write_report(const ReportInputs& in);

}  // namespace pathgrad::grokking
