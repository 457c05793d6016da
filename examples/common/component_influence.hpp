// Component influence per window from a tracker's exports: how much each component (a layer, a
// head, ...) moved a group of probe scalars, window by window and over the whole run, split into
// the data part and the weight-decay part.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "examples/common/tracker_exports.hpp"

namespace pathgrad::examples {

// A window of steps [begin, end) and its label; the whole run is [0, steps).
struct StepRange {
  int64_t begin = 0, end = 0;
  std::string label() const;  // "steps 200-250"
};

// The tracker's windows (axis "window").
std::vector<StepRange> window_ranges(const TrackerExports& exports);
// Entry w of the leading (window) axis of a [W, ...] tensor: [...].
Tensor window_slice(const Tensor& t, int64_t w);

// Mean over the probe scalars `rows` of each component's influence.
struct ComponentInfluence {
  std::vector<std::string> components;
  std::vector<StepRange> windows;
  std::vector<std::vector<double>> data, decay;  // [component][window]
  std::vector<double> data_total, decay_total;   // [component], whole run
};
// `components` are names on the exports' component axis (std::invalid_argument for another).
ComponentInfluence component_influence(const TrackerExports& exports, const std::vector<std::string>& components,
                                       const std::vector<int64_t>& rows);

}  // namespace pathgrad::examples
