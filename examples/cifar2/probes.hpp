// The test images the trackers explain: the probes (the first test images, each on both class
// log-probabilities: OutputWeighting::all_outputs, probe scalar 2i + c is log p(class c | test
// image i)), and the importance images of the pruning experiment.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "explaind/probes.hpp"
#include "nn/data/image_set.hpp"

namespace pathgrad::cifar2 {

inline constexpr const char* kProbeSet = "test";
inline constexpr const char* kImportanceSet = "importance";

// Test images [begin, begin + count) (capped at the test set's size) as one probe set named
// `name` on both class log-probabilities; ids are their test-set indices.
explaind::ProbeSet test_probe_set(const nn::data::ImageSet& test, int64_t begin, int64_t count,
                                  const std::string& name);

// The first `count` test images: the probes of the main tracker, as the report sees them.
explaind::ProbeSet make_probe_set(const nn::data::ImageSet& test, int64_t count);

// The pruning experiment's importance images [begin, begin + count) of the test set (a chunk of
// them), sample_level (their parameter-wise influence is what the tracker keeps).
explaind::ProbeSet importance_probe_set(const nn::data::ImageSet& test, int64_t begin, int64_t count);

// The probes as the main tracker takes them: the first `sample_level` images (0: none) a probe
// set of their own marked sample_level (the tracker's sample level is chosen per set), the rest
// a second set. The probe scalars keep the order of `probes`.
std::vector<explaind::ProbeSet> tracker_probe_sets(const explaind::ProbeSet& probes, int64_t sample_level);

// Probe-scalar rows of each probe image's own class (true) and of the other class, in image order.
struct ClassRows {
  std::vector<int64_t> true_class, other_class;
};
ClassRows class_rows(const explaind::ProbeSet& probes);

}  // namespace pathgrad::cifar2
