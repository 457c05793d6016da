// Read access to a tracker's exports (explaind/exports.cpp: manifest.json and the .npy arrays it
// names), with the lookups the examples' analyses need: rows of a probe set, components, windows.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad::examples {

class TrackerExports {
 public:
  // Reads <dir>/manifest.json. Throws std::runtime_error naming the file when it is missing or
  // malformed.
  explicit TrackerExports(std::string dir);

  int64_t steps() const;
  // Is the array listed in the manifest (the tracker level decides which are)?
  bool has(const std::string& array) const;
  // The array as float64. Throws std::runtime_error naming the array and the file.
  Tensor load(const std::string& array) const;

  // Probe-scalar rows (axis "probe_scalar") of the probe sets named, in order.
  std::vector<int64_t> rows_of_sets(const std::vector<std::string>& sets) const;
  // Split indices (probe ids) of the sample-level probes, in the order of axis "sample_level_probe".
  std::vector<int64_t> sample_level_ids() const;
  // Index of a component on axis "component", and its flat parameter ranges [begin, end).
  // Throws std::invalid_argument listing the components when `name` is not one.
  int64_t component_index(const std::string& name) const;
  std::vector<std::pair<int64_t, int64_t>> component_ranges(const std::string& name) const;
  // Names of the parameter tensors (axis "parameter"), in the optimizer's order: also the names
  // of the first components, one per tensor.
  std::vector<std::string> parameter_names() const;
  // Windows [begin, end) in steps, axis "window".
  std::vector<std::pair<int64_t, int64_t>> windows() const;

 private:
  std::string dir_;
  nlohmann::json manifest_;
};

// float64 [R, cols] gathered from rows `rows` of a [*, cols] tensor.
Tensor take_rows(const Tensor& matrix, const std::vector<int64_t>& rows);
// float64 [R, C]: the columns of a [R, P] tensor within `ranges`, concatenated.
Tensor take_column_ranges(const Tensor& matrix, const std::vector<std::pair<int64_t, int64_t>>& ranges);

}  // namespace pathgrad::examples
