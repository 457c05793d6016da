// Per-channel normalisation of image tensors: statistics and (x - mean[c]) / std[c].
#pragma once

#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad::nn::data {

struct ChannelStats {
  std::vector<double> mean;  // [C]
  std::vector<double> std;   // [C], population standard deviation (divides by the count)
};

// Mean and standard deviation of each channel of x [N, C, ...] (float32 or float64) over all
// examples and positions, accumulated in double. Throws std::invalid_argument for fewer than
// 2 dims, an empty x, or a non-float dtype.
ChannelStats channel_stats(const Tensor& x);

// x <- (x - mean[c]) / std[c], in place, for a contiguous float x [N, C, ...] (clone() first to keep
// the original). Throws std::invalid_argument for another x, or unless stats has C entries and
// every std is positive.
void normalize_channels_(const Tensor& x, const ChannelStats& stats);

}  // namespace pathgrad::nn::data
