// The probes the tracker explains: the first test images, each on both class log-probabilities
// (OutputWeighting::all_outputs: probe scalar 2i + c is log p(class c | test image i)).
#pragma once

#include <cstdint>
#include <vector>

#include "explaind/probes.hpp"
#include "nn/data/image_set.hpp"

namespace pathgrad::cifar2 {

inline constexpr const char* kProbeSet = "test";

// The first `count` (capped at the test set's size) test images as one probe set; ids are their
// test-set indices.
explaind::ProbeSet make_probe_set(const data::ImageSet& test, int64_t count);

// Probe-scalar rows of each probe image's own class (true) and of the other class, in image order.
struct ClassRows {
  std::vector<int64_t> true_class, other_class;
};
ClassRows class_rows(const explaind::ProbeSet& probes);

}  // namespace pathgrad::cifar2
