// nn::Linear: the affine layer y = x W^T + b.
#pragma once

#include <cstdint>
#include <string>

#include "nn/module.hpp"
#include "nn/options.hpp"
#include "tensor/random.hpp"

namespace pathgrad::nn {

struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  PATHGRAD_ARG(int64_t, in_features);
  PATHGRAD_ARG(int64_t, out_features);
  PATHGRAD_ARG(bool, bias) = true;
  // Generator for the initial weights; null means nn::default_generator(). Used only while
  // constructing.
  PATHGRAD_ARG(Generator*, generator) = nullptr;
};

// Parameters: weight [out_features, in_features], bias [out_features] (absent with bias(false)).
// Initialised like PyTorch: weight and bias ~ U[-1/sqrt(in), 1/sqrt(in)) (init::default_affine_).
// forward: [..., in_features] -> [..., out_features] through the `linear` primitive, so
// per_sample_grad works for inputs [B, ..., in_features].
class Linear : public Module {
 public:
  explicit Linear(const LinearOptions& options);
  Linear(int64_t in_features, int64_t out_features) : Linear(LinearOptions(in_features, out_features)) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const LinearOptions& options() const { return options_; }

  Tensor weight;  // [out, in]
  Tensor bias;    // [out], or undefined

 private:
  LinearOptions options_;
};

}  // namespace pathgrad::nn
