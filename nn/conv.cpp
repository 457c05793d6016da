// nn::Conv2d.
#include "nn/conv.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "autograd/ops.hpp"
#include "nn/init.hpp"

namespace pathgrad::nn {

Conv2d::Conv2d(const Conv2dOptions& options) : options_(options) {
  check_positive("Conv2d", "in_channels", options.in_channels());
  check_positive("Conv2d", "out_channels", options.out_channels());
  check_positive("Conv2d", "kernel_size", options.kernel_size());
  check_positive("Conv2d", "stride", options.stride());
  if (options.padding() < 0)
    throw std::invalid_argument(fmt::format("Conv2d: padding must be >= 0, got {}", options.padding()));
  const int64_t k = options.kernel_size();
  weight = register_parameter("weight", Tensor::zeros({options.out_channels(), options.in_channels(), k, k}));
  if (options.bias()) bias = register_parameter("bias", Tensor::zeros({options.out_channels()}));
  init::default_affine_(weight, bias, generator_or_default(options.generator()));
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias, options_.stride(), options_.padding());  // [N, C, H, W] -> [N, O, OH, OW]
}

std::string Conv2d::extra_repr() const {
  return fmt::format("{}, {}, kernel_size={}, stride={}, padding={}, bias={}", options_.in_channels(),
                     options_.out_channels(), options_.kernel_size(), options_.stride(), options_.padding(),
                     options_.bias());
}

}  // namespace pathgrad::nn
