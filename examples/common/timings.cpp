// The Timings table and timings.json of a run.
#include "examples/common/timings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "tensor/atomic_file.hpp"

namespace pathgrad::examples {

std::vector<std::pair<std::string, std::string>> timing_rows(const RunTimes& t) {
  return {{"training (including tracking)", fmt::format("{:.1f} s", t.training)},
          {"of which tracking", t.tracking >= 0 ? fmt::format("{:.1f} s", t.tracking) : "not tracked"},
          {"of which writing checkpoints", fmt::format("{:.1f} s", t.checkpoints)},
          {"analyses and plots", fmt::format("{:.1f} s", t.report)},
          {"this session so far", fmt::format("{:.1f} s", t.session)}};
}

void write_timings(const RunDir& dir, const RunTimes& t) {
  write_file_atomically(dir.timings(), nlohmann::json{{"training_seconds", t.training},
                                                      {"tracking_seconds", std::max(t.tracking, 0.0)},
                                                      {"checkpoint_seconds", t.checkpoints},
                                                      {"report_seconds", t.report},
                                                      {"session_seconds", t.session}}
                                               .dump(2) +
                                           "\n");
}

}  // namespace pathgrad::examples
