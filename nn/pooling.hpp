// nn::MaxPool2d and nn::AdaptiveMaxPool2d: max pooling over spatial windows of [N, C, H, W] inputs.
#pragma once

#include <cstdint>
#include <string>

#include "nn/module.hpp"
#include "nn/options.hpp"

namespace pathgrad::nn {

struct MaxPool2dOptions {
  explicit MaxPool2dOptions(int64_t kernel_size) : kernel_size_(kernel_size) {}
  PATHGRAD_ARG(int64_t, kernel_size);  // k: k x k windows
  PATHGRAD_ARG(int64_t, stride) = 0;   // 0 means kernel_size (PyTorch's default)
};

// x [N, C, H, W] -> [N, C, OH, OW], OH = (H - k)/stride + 1, no padding. The gradient of a window
// goes to its first maximum.
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const MaxPool2dOptions& options);
  explicit MaxPool2d(int64_t kernel_size) : MaxPool2d(MaxPool2dOptions(kernel_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  MaxPool2dOptions options_;
};

// x [N, C, H, W] -> [N, C, out_h, out_w] with PyTorch's adaptive windows: output row i covers input
// rows [floor(i*H/out_h), ceil((i+1)*H/out_h)) (likewise columns).
class AdaptiveMaxPool2d : public Module {
 public:
  AdaptiveMaxPool2d(int64_t out_h, int64_t out_w);
  explicit AdaptiveMaxPool2d(int64_t out_size) : AdaptiveMaxPool2d(out_size, out_size) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  int64_t out_h_, out_w_;
};

}  // namespace pathgrad::nn
