// nn::Conv2d: 2-D convolution (cross-correlation, like PyTorch) with square kernels.
#pragma once

#include <cstdint>
#include <string>

#include "nn/module.hpp"
#include "nn/options.hpp"
#include "tensor/random.hpp"

namespace pathgrad::nn {

struct Conv2dOptions {
  Conv2dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  PATHGRAD_ARG(int64_t, in_channels);
  PATHGRAD_ARG(int64_t, out_channels);
  PATHGRAD_ARG(int64_t, kernel_size);  // k: a k x k kernel
  PATHGRAD_ARG(int64_t, stride) = 1;   // the same in both directions
  PATHGRAD_ARG(int64_t, padding) = 0;  // zero padding on every side
  PATHGRAD_ARG(bool, bias) = true;
  // Generator for the initial weights; null means nn::default_generator().
  PATHGRAD_ARG(Generator*, generator) = nullptr;
};

// Parameters: weight [out_channels, in_channels, k, k], bias [out_channels] (absent with
// bias(false)), initialised like PyTorch: U[-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in*k*k.
// forward: x [N, in_channels, H, W] -> [N, out_channels, OH, OW], OH = (H + 2*padding - k)/stride + 1
// (likewise OW), through the `conv2d` primitive (per_sample_grad works with N the batch).
class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& options);
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : Conv2d(Conv2dOptions(in_channels, out_channels, kernel_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const Conv2dOptions& options() const { return options_; }

  Tensor weight;  // [O, C, k, k]
  Tensor bias;    // [O], or undefined

 private:
  Conv2dOptions options_;
};

}  // namespace pathgrad::nn
