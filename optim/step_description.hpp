// The linear form of an optimizer step (path-kernel.md §2): how the update just applied depends
// on the gradients, so that explaind/ can attribute it to training samples without knowing which
// optimizer ran.
//
// For every parameter tensor θ the optimizer keeps, conceptually, a *data buffer* b that is
// linear in the gradients it was fed:
//
//     b_s   = buffer_decay_s · b_{s-1}  +  grad_scale_s · g_s
//     Δθ_s  = buffer_coef_s ⊙ b_s  +  direct_coef_s ⊙ g_s  +  non_data_s
//
// where g_s is the gradient of the batch loss as it stood in .grad when step() was called
// *before* any clipping (clip factors are folded into grad_scale and direct_coef), and Δθ_s =
// θ_{s+1} − θ_s. Quantities the optimizer derives from squares of gradients (Adam's v, AMSGrad's
// max) are frozen at their value of this step inside buffer_coef. non_data_s is everything that
// does not come from data: weight decay, coupled or decoupled, including the part of it carried
// by momentum. Since g_s = Σ_i a_{s,i} ∇ℓ_i(θ_s), replacing g by one sample's weighted gradient in
// these two lines gives that sample's share of every later step.
//
// Examples (η = learning rate of the step, c = clip factor, 1 without clipping):
//   SGD, no momentum:      decay 0, grad_scale 0, buffer_coef 0, direct −η·c
//   SGD, momentum μ, τ:    step 0: decay 0, grad_scale c; later: decay μ, grad_scale (1−τ)·c;
//                          buffer_coef −η (nesterov: −η·μ, direct −η·c)
//   Adam/AdamW:            decay β1, grad_scale (1−β1)·c, buffer_coef −D_s (elementwise),
//                          D_s = η / ((1−β1^k)(√(v_s/(1−β2^k)) + ε)), k = s+1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad::optim {

// A coefficient that is either one number for the whole tensor or one number per element:
// value = scale * elementwise (when elementwise is defined), else scale.
struct Coefficient {
  double scale = 0.0;
  Tensor elementwise;  // same shape and dtype as the parameter, or undefined

  bool is_zero() const { return scale == 0.0; }
  // scale * elementwise, or a tensor of `shape` filled with scale.
  Tensor materialize(const Shape& shape, DType dtype) const;
};

struct ParamStep {
  std::string name;  // the parameter's dotted name
  double buffer_decay = 0.0;
  double grad_scale = 0.0;
  Coefficient buffer_coef;
  Coefficient direct_coef;
  Tensor non_data;  // Δθ's part that is not from data, or undefined (zero)
};

struct StepDescription {
  int64_t step = 0;               // s: the number of steps taken before this one
  std::vector<ParamStep> params;  // in the optimizer's parameter order
};

}  // namespace pathgrad::optim
