// The test-image probes of the CIFAR-2 example.
#include "examples/cifar2/probes.hpp"

#include <algorithm>
#include <numeric>

#include "tensor/kernels.hpp"

namespace pathgrad::cifar2 {

explaind::ProbeSet make_probe_set(const data::ImageSet& test, int64_t count) {
  const int64_t n = std::min(count, test.size());
  explaind::ProbeSet set;
  set.name = kProbeSet;
  set.x = kernel::narrow(test.images, 0, 0, n).contiguous();  // [n, 3, 32, 32]
  set.y = kernel::narrow(test.labels, 0, 0, n).contiguous();  // [n]
  set.ids.resize(static_cast<size_t>(n));
  std::iota(set.ids.begin(), set.ids.end(), 0);
  set.weightings = {explaind::OutputWeighting::all_outputs()};
  return set;
}

ClassRows class_rows(const explaind::ProbeSet& probes) {
  ClassRows rows;
  const std::vector<double> labels = probes.y.to_vector();  // 0 or 1
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto first = static_cast<int64_t>(2 * i), label = static_cast<int64_t>(labels[i]);
    rows.true_class.push_back(first + label);
    rows.other_class.push_back(first + 1 - label);
  }
  return rows;
}

}  // namespace pathgrad::cifar2
