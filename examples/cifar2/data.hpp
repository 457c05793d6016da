// The CIFAR-2 data of a run: cats (0) and dogs (1) from the CIFAR-10 binary batches, normalised
// per channel with the fixed CIFAR-10 statistics, the training set cut to --train-images.
#pragma once

#include "examples/cifar2/config.hpp"
#include "nn/data/image_set.hpp"

namespace pathgrad::cifar2 {

// Per-channel mean and standard deviation of CIFAR-10 (pixels in [0, 1]), as in the paper's code.
nn::data::ChannelStats cifar10_stats();

// train: float32 [N, 3, 32, 32] (N = config.train_images, or all), labels int64 [N];
// test: float32 [2000, 3, 32, 32], labels int64 [2000]. Throws std::invalid_argument naming
// --data when the directory does not exist and --train-images when it asks for more images
// than there are; std::runtime_error from the reader for a malformed file.
nn::data::ImageSplits load_data(const Config& config);

}  // namespace pathgrad::cifar2
