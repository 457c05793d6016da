// Evaluating a classifier on a labelled set, whole or in batches.
#include "examples/common/evaluation.hpp"

#include <algorithm>

#include "autograd/engine.hpp"
#include "nn/loss.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::examples {

double accuracy(const Tensor& log_probs, const Tensor& y) {
  const Tensor hits = kernel::eq(kernel::argmax(log_probs, 1), y);
  return kernel::mean(hits.to(DType::Float64)).item();
}

Evaluation evaluate(nn::Module& model, const Tensor& x, const Tensor& y, int64_t batch_size) {
  NoGradGuard no_grad;
  const int64_t n = x.size(0), b = batch_size > 0 ? batch_size : n;
  if (b >= n) {
    const Tensor out = model.forward(x);  // [N, C]
    return {nn::nll_loss(out, y).item(), accuracy(out, y)};
  }
  double loss_sum = 0, hits = 0;
  for (int64_t i = 0; i < n; i += b) {
    const int64_t len = std::min(b, n - i);
    const Tensor yb = kernel::narrow(y, 0, i, len);
    const Tensor out = model.forward(kernel::narrow(x, 0, i, len));  // [len, C]
    loss_sum += nn::nll_loss(out, yb).item() * static_cast<double>(len);
    hits += accuracy(out, yb) * static_cast<double>(len);
  }
  return {loss_sum / static_cast<double>(n), hits / static_cast<double>(n)};
}

}  // namespace pathgrad::examples
