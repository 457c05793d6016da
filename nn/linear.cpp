// nn::Linear.
#include "nn/linear.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"
#include "nn/init.hpp"

namespace pathgrad::nn {

Linear::Linear(const LinearOptions& options) : options_(options) {
  check_positive("Linear", "in_features", options.in_features());
  check_positive("Linear", "out_features", options.out_features());
  weight = register_parameter("weight", Tensor::zeros({options.out_features(), options.in_features()}));
  if (options.bias()) bias = register_parameter("bias", Tensor::zeros({options.out_features()}));
  init::default_affine_(weight, bias, generator_or_default(options.generator()));
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }  // [..., in] -> [..., out]

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", options_.in_features(), options_.out_features(),
                     options_.bias());
}

}  // namespace pathgrad::nn
