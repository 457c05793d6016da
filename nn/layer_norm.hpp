// nn::LayerNorm: normalisation of each sample over its last dims, with an optional learned affine map.
#pragma once

#include <string>
#include <utility>

#include "nn/module.hpp"
#include "nn/options.hpp"
#include "tensor/shape.hpp"

namespace pathgrad::nn {

struct LayerNormOptions {
  explicit LayerNormOptions(Shape normalized_shape) : normalized_shape_(std::move(normalized_shape)) {}
  PATHGRAD_ARG(Shape, normalized_shape);  // the trailing dims normalised over, e.g. {d_model}
  PATHGRAD_ARG(double, eps) = 1e-5;
  PATHGRAD_ARG(bool, elementwise_affine) = true;
};

// x [..., *normalized_shape] -> same shape:
//   y = (x - mean) / sqrt(var + eps) * weight + bias,
// mean and the biased variance taken over the trailing normalized_shape dims of each sample (no
// statistics across the batch, so per-sample gradients are well defined). Parameters, with
// elementwise_affine: weight = 1 and bias = 0, both [*normalized_shape] (PyTorch's defaults).
// Built from autograd ops (mean, sub, mul, sqrt, div, broadcasting mul/add on the parameters), so
// per_sample_grad works for inputs [B, ...]. Throws std::invalid_argument naming both shapes when
// x's trailing dims differ from normalized_shape.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(const LayerNormOptions& options);
  explicit LayerNorm(int64_t normalized_size) : LayerNorm(LayerNormOptions({normalized_size})) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const LayerNormOptions& options() const { return options_; }

  Tensor weight;  // [*normalized_shape], or undefined without elementwise_affine
  Tensor bias;    // [*normalized_shape], or undefined without elementwise_affine

 private:
  LayerNormOptions options_;
};

}  // namespace pathgrad::nn
