// Evaluating a classifier on a labelled set, whole or in batches.
#include "examples/common/evaluation.hpp"

#include <algorithm>
#include <vector>

#include "autograd/engine.hpp"
#include "nn/loss.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::examples {

double accuracy(const Tensor& log_probs, const Tensor& y) {
  const Tensor hits = kernel::eq(kernel::argmax(log_probs, 1), y);
  return kernel::mean(hits.to(DType::Float64)).item();
}

Tensor outputs(nn::Module& model, const Tensor& x, int64_t batch_size) {
  NoGradGuard no_grad;
  const int64_t n = x.size(0), b = batch_size > 0 ? batch_size : n;
  if (b >= n) return model.forward(x);
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < n; i += b) parts.push_back(model.forward(kernel::narrow(x, 0, i, std::min(b, n - i))));
  return kernel::cat(parts, 0);
}

Evaluation evaluate(nn::Module& model, const Tensor& x, const Tensor& y, int64_t batch_size) {
  const Tensor out = outputs(model, x, batch_size);  // [N, C]
  return {nn::nll_loss(out, y).item(), accuracy(out, y)};
}

}  // namespace pathgrad::examples
