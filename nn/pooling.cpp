// nn::MaxPool2d and nn::AdaptiveMaxPool2d.
#include "nn/pooling.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "autograd/ops.hpp"

namespace pathgrad::nn {

MaxPool2d::MaxPool2d(const MaxPool2dOptions& options) : options_(options) {
  check_positive("MaxPool2d", "kernel_size", options.kernel_size());
  if (options.stride() < 0)
    throw std::invalid_argument(
        fmt::format("MaxPool2d: stride must be >= 0 (0: the kernel size), got {}", options.stride()));
}

Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, options_.kernel_size(), options_.stride());  // [N, C, H, W] -> [N, C, OH, OW]
}

std::string MaxPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}", options_.kernel_size(),
                     options_.stride() == 0 ? options_.kernel_size() : options_.stride());
}

AdaptiveMaxPool2d::AdaptiveMaxPool2d(int64_t out_h, int64_t out_w) : out_h_(out_h), out_w_(out_w) {
  check_positive("AdaptiveMaxPool2d", "output height", out_h);
  check_positive("AdaptiveMaxPool2d", "output width", out_w);
}

Tensor AdaptiveMaxPool2d::forward(const Tensor& x) {
  return adaptive_max_pool2d(x, out_h_, out_w_);  // [N, C, H, W] -> [N, C, out_h, out_w]
}

std::string AdaptiveMaxPool2d::extra_repr() const { return fmt::format("output_size=({}, {})", out_h_, out_w_); }

}  // namespace pathgrad::nn
