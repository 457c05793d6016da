// Gradient clipping by the total 2-norm (PyTorch's torch.nn.utils.clip_grad_norm_), applied to
// the gradients of an optimizer's parameters and recorded in that optimizer, so that its next
// step is described in terms of the unclipped gradient.
#pragma once

#include "optim/optimizer.hpp"

namespace pathgrad::optim {

// Computes the 2-norm of all defined .grad of the optimizer's parameters taken together
// (accumulated in float64), factor = max_norm / (norm + 1e-6), and when factor < 1 scales every
// gradient by it through optimizer.scale_grads(factor). Returns the norm before clipping.
// Throws std::invalid_argument when max_norm is not finite and > 0, or when the norm is not
// finite (a NaN or infinite gradient cannot be clipped; PyTorch's error_if_nonfinite=True).
double clip_grad_norm_(Optimizer& optimizer, double max_norm);

}  // namespace pathgrad::optim
