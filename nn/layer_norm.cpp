// nn::LayerNorm.
#include "nn/layer_norm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "autograd/ops.hpp"

namespace pathgrad::nn {

LayerNorm::LayerNorm(const LayerNormOptions& options) : options_(options) {
  const Shape& shape = options.normalized_shape();
  if (shape.empty() || std::any_of(shape.begin(), shape.end(), [](int64_t s) { return s <= 0; }))
    throw std::invalid_argument(
        fmt::format("LayerNorm: normalized_shape must be non-empty with positive sizes, got {}", shape_str(shape)));
  if (!(options.eps() >= 0.0))
    throw std::invalid_argument(fmt::format("LayerNorm: eps must be >= 0, got {}", options.eps()));
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", Tensor::ones(shape));
    bias = register_parameter("bias", Tensor::zeros(shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  const Shape& norm = options_.normalized_shape();
  const int64_t k = static_cast<int64_t>(norm.size());
  if (x.dim() < k || !std::equal(norm.begin(), norm.end(), x.shape().end() - k))
    throw std::invalid_argument(fmt::format("LayerNorm: input {} does not end with normalized_shape {}",
                                            shape_str(x.shape()), shape_str(norm)));
  std::vector<int64_t> dims;
  for (int64_t d = -k; d < 0; ++d) dims.push_back(d);
  Tensor centred = x - mean(x, dims, true);                      // [..., *norm]
  Tensor var = mean(centred * centred, dims, true);              // [..., 1, ..., 1]
  Tensor y = centred / sqrt(var + options_.eps());               // [..., *norm]
  return options_.elementwise_affine() ? y * weight + bias : y;  // parameters broadcast over [...]
}

std::string LayerNorm::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", shape_str(options_.normalized_shape()), options_.eps(),
                     options_.elementwise_affine());
}

}  // namespace pathgrad::nn
