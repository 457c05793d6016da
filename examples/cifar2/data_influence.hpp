// The data influence of the training images on the sample-level probes (the main tracker's
// sample_data at --track samples): for each such test image, the training images whose SGD
// updates raised the log-probability of its own class the most (proponents) and lowered it the
// most (opponents), and the total influence of each training class.
#pragma once

#include <cstdint>
#include <vector>

#include "examples/common/tracker_exports.hpp"
#include "explaind/probes.hpp"
#include "nn/data/image_set.hpp"

namespace pathgrad::cifar2 {

struct Influencers {
  int64_t probe = 0;  // test-set index
  int64_t label = 0;  // its class (0 cat, 1 dog)
  // Training-set indices, strongest first, with their influence on log p(own class).
  std::vector<int64_t> proponents, opponents;
  std::vector<double> proponent_influence, opponent_influence;
  double class_total[2] = {0, 0};  // Σ of the influence of the training cats / dogs
};

// `count` proponents and opponents of every sample-level probe image. `probes` are the tracker's
// probes in order (the sample-level ones first, as tracker_probe_sets makes them); `train_labels`
// int64 [N]. Throws std::runtime_error when the exports hold no sample level or their shape does
// not fit N.
std::vector<Influencers> strongest_influencers(const examples::TrackerExports& exports,
                                               const explaind::ProbeSet& probes, const Tensor& train_labels,
                                               int64_t count);

// Image i of a normalised batch [N, 3, H, W] back in [0, 1]: float32 [3, H, W].
Tensor displayable(const Tensor& images, int64_t i);

}  // namespace pathgrad::cifar2
