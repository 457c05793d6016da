// The benchmarks' CIFAR-2 CNN: the ExPLAIND paper's ResNet-9 without batch norm, at a chosen width
// (bench/train_peer.py builds the same network in PyTorch).
#pragma once

#include <cstdint>
#include <memory>

#include "nn/container.hpp"

namespace pathgrad::bench {

// Widths w-2w-4w-8w (the paper's network is w = 64) on [N, 3, 32, 32] inputs:
//   conv(3→w) relu                                    32×32
//   conv(w→2w) relu maxpool2                          16×16
//   residual: conv(2w→2w) relu conv(2w→2w) relu
//   conv(2w→4w) relu maxpool2                         8×8
//   conv(4w→8w) relu maxpool2                         4×4
//   residual: conv(8w→8w) relu conv(8w→8w) relu
//   adaptive max pool to 1×1, flatten, linear(8w→classes), log-softmax
// Every convolution is 3×3 with padding 1 and a bias; PyTorch's default initialisation from
// nn::default_generator().
std::shared_ptr<nn::Sequential> resnet9_no_bn(int64_t width, int64_t classes = 2);

}  // namespace pathgrad::bench
