// The test-image probes of the CIFAR-2 example.
#include "examples/cifar2/probes.hpp"

#include <algorithm>
#include <numeric>

#include "tensor/kernels.hpp"

namespace pathgrad::cifar2 {

namespace {
// Inputs [begin, end) of a probe set, with their labels and ids.
explaind::ProbeSet rows_of(const explaind::ProbeSet& set, int64_t begin, int64_t end) {
  explaind::ProbeSet part = set;
  part.x = kernel::narrow(set.x, 0, begin, end - begin).contiguous();  // [n, 3, 32, 32]
  part.y = kernel::narrow(set.y, 0, begin, end - begin).contiguous();  // [n]
  part.ids.assign(set.ids.begin() + begin, set.ids.begin() + end);
  return part;
}
}  // namespace

explaind::ProbeSet test_probe_set(const nn::data::ImageSet& test, int64_t begin, int64_t count,
                                  const std::string& name) {
  const int64_t end = std::min(begin + count, test.size());
  explaind::ProbeSet set;
  set.name = name;
  set.x = test.images;
  set.y = test.labels;
  set.ids.resize(static_cast<size_t>(test.size()));
  std::iota(set.ids.begin(), set.ids.end(), 0);
  set.weightings = {explaind::OutputWeighting::all_outputs()};
  return rows_of(set, begin, end);
}

explaind::ProbeSet make_probe_set(const nn::data::ImageSet& test, int64_t count) {
  return test_probe_set(test, 0, count, kProbeSet);
}

explaind::ProbeSet importance_probe_set(const nn::data::ImageSet& test, int64_t begin, int64_t count) {
  explaind::ProbeSet set = test_probe_set(test, begin, count, kImportanceSet);
  set.sample_level = true;
  return set;
}

std::vector<explaind::ProbeSet> tracker_probe_sets(const explaind::ProbeSet& probes, int64_t sample_level) {
  const int64_t n = probes.x.size(0), s = std::min(sample_level, n);
  std::vector<explaind::ProbeSet> sets;
  if (s > 0) {
    sets.push_back(rows_of(probes, 0, s));
    sets.back().sample_level = true;
  }
  if (s < n) sets.push_back(rows_of(probes, s, n));
  return sets;
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
