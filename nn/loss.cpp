// Loss functions with per-sample weights and reductions.
#include "nn/loss.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "autograd/ops.hpp"

namespace pathgrad::nn {
namespace {

// Multiplies the terms e [B, ...] by weights [B] along dim 0, then reduces.
Tensor weigh_and_reduce(const char* op, Tensor terms, const Tensor& weights, Reduction reduction) {
  const int64_t B = terms.size(0);
  if (weights.defined()) {
    if (weights.shape() != Shape{B} || weights.dtype() != terms.dtype())
      throw std::invalid_argument(fmt::format("{}: weights must be {} {} (one per sample), got {} {}", op,
                                              dtype_name(terms.dtype()), shape_str({B}), dtype_name(weights.dtype()),
                                              shape_str(weights.shape())));
    Shape along_batch(static_cast<size_t>(terms.dim()), 1);  // [B, 1, ..., 1]
    along_batch[0] = B;
    terms = terms * reshape(weights, along_batch);
  }
  if (reduction == Reduction::None) return terms;
  if (reduction == Reduction::Sum) return sum(terms);
  if (terms.numel() == 0) throw std::invalid_argument(fmt::format("{}: mean over an empty batch", op));
  return sum(terms) * (1.0 / static_cast<double>(terms.numel()));
}

Tensor nll(const char* op, const Tensor& log_probs, const Tensor& target, Reduction reduction, const Tensor& weights) {
  if (log_probs.dim() != 2 || !log_probs.is_floating_point())
    throw std::invalid_argument(fmt::format("{}: expected float32/float64 input [B, C], got {} {}", op,
                                            dtype_name(log_probs.dtype()), shape_str(log_probs.shape())));
  const int64_t B = log_probs.size(0), C = log_probs.size(1);
  if (target.dtype() != DType::Int64 || target.shape() != Shape{B})
    throw std::invalid_argument(fmt::format("{}: target must be int64 {} for input {}, got {} {}", op, shape_str({B}),
                                            shape_str(log_probs.shape()), dtype_name(target.dtype()),
                                            shape_str(target.shape())));
  const Tensor idx = target.contiguous();
  const int64_t* t = idx.data<int64_t>();
  for (int64_t i = 0; i < B; ++i)
    if (t[i] < 0 || t[i] >= C)
      throw std::out_of_range(fmt::format("{}: target[{}] = {} is not a class in [0, {})", op, i, t[i], C));
  Tensor picked = gather(log_probs, 1, kernel::reshape(idx, {B, 1}));  // [B, 1]
  return weigh_and_reduce(op, -reshape(picked, {B}), weights, reduction);
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction, const Tensor& weights) {
  return nll("nll_loss", log_probs, target, reduction, weights);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction, const Tensor& weights) {
  if (logits.dim() != 2 || !logits.is_floating_point())
    throw std::invalid_argument(fmt::format("cross_entropy: expected float32/float64 logits [B, C], got {} {}",
                                            dtype_name(logits.dtype()), shape_str(logits.shape())));
  return nll("cross_entropy", log_softmax(logits, 1), target, reduction, weights);
}

Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction reduction, const Tensor& weights) {
  if (pred.dim() < 1 || !pred.is_floating_point() || target.shape() != pred.shape() || target.dtype() != pred.dtype())
    throw std::invalid_argument(fmt::format(
        "mse_loss: pred {} {} and target {} {} must be float32/float64 of one shape [B, ...] and dtype",
        dtype_name(pred.dtype()), shape_str(pred.shape()), dtype_name(target.dtype()), shape_str(target.shape())));
  const Tensor diff = pred - target;
  return weigh_and_reduce("mse_loss", diff * diff, weights, reduction);
}

}  // namespace pathgrad::nn
