// Lesson 4 exercises: one step of SGD, momentum and AdamW by hand, and the linear form of a step
// (optim/step_description.hpp) turned back into the update it describes.
// Reference solutions: solutions.cpp beside this file; tests: tests/course/test_04_optimizers.cpp.
//
// Every function returns Δθ = θ_{s+1} − θ_s for one parameter tensor θ with gradient g (same shape
// and dtype; use float64), following PyTorch's update rules as pathgrad implements them.
#pragma once

#include <cstdint>

#include "optim/step_description.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::course {

// Exercise 4.1 — SGD with (coupled) weight decay λ and learning rate η:
//     Δθ = −η·(g + λθ)   =   −η·g  (data part)   +   −ηλ·θ  (decay part)
// Hint: kernel::add, kernel::mul_scalar.
Tensor sgd_delta(const Tensor& theta, const Tensor& grad, double lr, double weight_decay);

// Exercise 4.2 — SGD with momentum μ (dampening 0) and weight decay λ. With d = g + λθ:
//     b = d on the first step (state.buffer undefined), else b = μ·b + d;   Δθ = −η·b
// Update state.buffer to the new b.
struct MomentumState {
  Tensor buffer;  // undefined before the first step
};
Tensor momentum_delta(MomentumState& state, const Tensor& theta, const Tensor& grad, double lr, double momentum,
                      double weight_decay);

// Exercise 4.3 — AdamW (decoupled weight decay). At step k = state.step + 1 (then store k):
//     m = β1·m + (1−β1)·g          v = β2·v + (1−β2)·g²        (m, v start at zero)
//     denom = √v / √(1 − β2^k) + ε
//     Δθ = −ηλ·θ  −  η/(1 − β1^k) · m / denom
// Hint: start m and v as Tensor::zeros(theta.shape(), theta.dtype()) when state.step == 0.
struct AdamState {
  int64_t step = 0;
  Tensor m, v;
};
struct AdamHyper {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
};
Tensor adamw_delta(AdamState& state, const Tensor& theta, const Tensor& grad, const AdamHyper& h);

// Exercise 4.4 — the update a step description describes.
// A ParamStep says, for every optimizer, how the step used the gradient g:
//     b  = buffer_decay · b  +  grad_scale · g                        (the data buffer)
//     Δθ = buffer_coef ⊙ b  +  direct_coef ⊙ g  +  non_data            (non_data undefined = 0)
// Update `data_buffer` (undefined before the first step: treat it as zeros) and return Δθ.
// Hint: Coefficient::materialize(shape, dtype) turns buffer_coef / direct_coef into tensors.
Tensor delta_from_description(const optim::ParamStep& step, Tensor& data_buffer, const Tensor& grad);

}  // namespace pathgrad::course
