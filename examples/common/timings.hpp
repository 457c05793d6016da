// Where a run's time went: the report's Timings table and timings.json.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "examples/common/run_dir.hpp"

namespace pathgrad::examples {

struct RunTimes {
  double training = 0;     // seconds, including tracking, over every session
  double tracking = -1;    // of which tracking; < 0: not tracked
  double checkpoints = 0;  // of which writing checkpoints
  double report = 0;       // analyses and plots
  double session = 0;      // this session so far
};

// The report's rows ("training (including tracking)", "of which tracking", ...).
std::vector<std::pair<std::string, std::string>> timing_rows(const RunTimes& t);
// <run>/timings.json: training_seconds, tracking_seconds (0 when untracked), checkpoint_seconds,
// report_seconds, session_seconds; written atomically.
void write_timings(const RunDir& dir, const RunTimes& t);

}  // namespace pathgrad::examples
