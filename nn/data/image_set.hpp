// Labelled image sets and their preparation for training, shared by the CIFAR-10 and IDX readers:
// label checks, a class filter with relabelling, scaling to [0, 1] and per-channel normalisation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/data/dataset.hpp"
#include "nn/data/normalize.hpp"
#include "nn/options.hpp"

namespace pathgrad::nn::data {

// N labelled images. The readers return uint8 pixels as stored; prepare_image_splits() returns
// float32 pixels.
struct ImageSet {
  Tensor images;  // [N, C, H, W]
  Tensor labels;  // int64 [N]
  int64_t size() const { return labels.size(0); }
  TensorDataset dataset() const { return TensorDataset(images, labels); }
};

// A training set and a test set prepared the same way.
struct ImageSplits {
  ImageSet train, test;
  ChannelStats stats;  // the statistics applied by normalisation; empty when not normalised
};

class ImageOptions {
 public:
  // Normalise each channel to zero mean and unit standard deviation using statistics computed on
  // the (filtered) training set, applied to both splits. Default false: pixels stay in [0, 1].
  // Written out rather than PATHGRAD_ARG: the getter is also true when stats() are given.
  ImageOptions& normalize(bool value) {
    normalize_ = value;
    return *this;
  }
  bool normalize() const { return normalize_ || !stats_.mean.empty(); }

  // Keep only these classes, relabelled 0, 1, ... in the listed order (CIFAR-2: {3, 5} makes
  // cat 3 -> 0 and dog 5 -> 1). Empty (the default) keeps every class with its own label.
  PATHGRAD_ARG(std::vector<int64_t>, classes);
  // Normalise with these statistics instead (implies normalize(true)).
  PATHGRAD_ARG(ChannelStats, stats);

 private:
  bool normalize_ = false;
};

// Throws std::runtime_error "<source>: label L at record i, expected a class in [0, num_classes)"
// for the first label outside that range.
void check_labels(const Tensor& labels, int64_t num_classes, const std::string& source);

// The examples of `classes`, in their original order, relabelled by their position in `classes`
// (the images tensor is shared with `set` when every example is kept).
// Throws std::invalid_argument for a class outside [0, num_classes) or a repeated class, and
// std::runtime_error naming `source` for a label outside [0, num_classes) or when no example is
// left.
ImageSet select_classes(const ImageSet& set, const std::vector<int64_t>& classes, int64_t num_classes,
                        const std::string& source);

// uint8 images as read -> float32 in [0, 1] (byte / 255), filtered and normalised as `options` say.
ImageSplits prepare_image_splits(const ImageSet& train, const ImageSet& test, const ImageOptions& options,
                                 int64_t num_classes, const std::string& source);

}  // namespace pathgrad::nn::data
