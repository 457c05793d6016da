// Loss functions: negative log-likelihood, cross-entropy and mean squared error, with optional
// per-sample weights.
//
// Reduction. Each loss first forms elementwise terms e (one per sample for nll_loss and
// cross_entropy, one per element of pred for mse_loss), multiplied by the per-sample weight w_i of
// their sample when weights are given. Then
//   None: the weighted terms themselves — [B] for nll_loss/cross_entropy (the per-sample losses
//         per_sample_grad wants), pred's shape for mse_loss;
//   Sum:  their sum;
//   Mean: their sum divided by the number of terms (B for nll_loss; numel(pred) for mse_loss, so
//         that without weights it is PyTorch's mean). For nll_loss, Mean = sum_i w_i l_i / B.
// Weights never change the divisor, so a batch's loss stays linear in them (the a_{r,i} of the
// path kernel). PyTorch's `weight` argument is different: it holds per-*class* weights c and its
// mean divides by sum_i c[y_i]. To reproduce it, pass w_i = c[y_i] * B / sum_j c[y_j].
//
// Errors: std::invalid_argument naming the loss and the shapes/dtypes at fault; a target class
// outside [0, C) throws std::out_of_range naming the sample, the class and C. Mean of an empty
// batch throws.
#pragma once

#include "tensor/tensor.hpp"

namespace pathgrad::nn {

enum class Reduction { Mean, Sum, None };

// log_probs [B, C] (floating point), target int64 [B] with values in [0, C), weights [B] of
// log_probs' dtype (optional). Per-sample loss l_i = -log_probs[i, target_i].
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction = Reduction::Mean,
                const Tensor& weights = Tensor());

// nll_loss(log_softmax(logits, 1), target, ...): logits [B, C].
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::Mean,
                     const Tensor& weights = Tensor());

// Squared errors (pred - target)^2: pred and target of the same shape [B, ...] and dtype (no
// broadcasting), weights [B] of pred's dtype (optional), applied along dim 0.
Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction reduction = Reduction::Mean,
                const Tensor& weights = Tensor());

}  // namespace pathgrad::nn
