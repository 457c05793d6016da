// Component influence per window, averaged over a group of probe scalars.
#include "examples/common/component_influence.hpp"

#include <fmt/format.h>

#include "tensor/kernels.hpp"

namespace pathgrad::examples {

namespace K = kernel;

std::string StepRange::label() const { return fmt::format("steps {}-{}", begin, end); }

std::vector<StepRange> window_ranges(const TrackerExports& exports) {
  std::vector<StepRange> out;
  for (const auto& [b, e] : exports.windows()) out.push_back({b, e});
  return out;
}

Tensor window_slice(const Tensor& t, int64_t w) { return K::squeeze(K::narrow(t, 0, w, 1), 0); }

namespace {
// Mean over `rows` of column `c` of a [M, C] matrix.
double column_mean(const Tensor& matrix, const std::vector<int64_t>& rows, int64_t c) {
  double s = 0;
  for (int64_t m : rows) s += matrix.at({m, c});
  return rows.empty() ? 0.0 : s / static_cast<double>(rows.size());
}
}  // namespace

ComponentInfluence component_influence(const TrackerExports& exports, const std::vector<std::string>& components,
                                       const std::vector<int64_t>& rows) {
  ComponentInfluence out;
  out.components = components;
  out.windows = window_ranges(exports);
  const Tensor wdata = exports.load("component_window_data"),
               wdecay = exports.load("component_window_decay");                                 // [W, M, C]
  const Tensor data = exports.load("component_data"), decay = exports.load("component_decay");  // [M, C]
  for (const std::string& name : components) {
    const int64_t c = exports.component_index(name);
    std::vector<double> d, r;
    for (int64_t w = 0; w < static_cast<int64_t>(out.windows.size()); ++w) {
      d.push_back(column_mean(window_slice(wdata, w), rows, c));
      r.push_back(column_mean(window_slice(wdecay, w), rows, c));
    }
    out.data.push_back(std::move(d));
    out.decay.push_back(std::move(r));
    out.data_total.push_back(column_mean(data, rows, c));
    out.decay_total.push_back(column_mean(decay, rows, c));
  }
  return out;
}

}  // namespace pathgrad::examples
