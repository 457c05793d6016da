// Lesson 3 reference solutions (exercises.hpp).
#include "autograd/ops.hpp"
#include "examples/course/03_training/exercises.hpp"
#include "nn/loss.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::course {

double accuracy(const Tensor& logits, const Tensor& labels) {
  const Tensor predicted = kernel::argmax(logits, 1);    // int64 [B]
  const Tensor correct = kernel::eq(predicted, labels);  // int64 [B] of 0/1
  return kernel::sum(correct).item() / static_cast<double>(labels.numel());
}

Tensor cross_entropy_by_hand(const Tensor& logits, const Tensor& labels) {
  const int64_t batch = logits.size(0);
  const Tensor picked = gather(logits, 1, reshape(labels, {batch, 1}));  // [B, 1]: logits_b[label_b]
  const Tensor normaliser = logsumexp(logits, {1}, true);                // [B, 1]
  return mean(normaliser - picked);                                      // 0-d
}

std::vector<double> train_steps(nn::Module& model, optim::Optimizer& optimizer, nn::data::DataLoader& loader,
                                int64_t steps) {
  std::vector<double> losses;
  for (int64_t s = 0; s < steps; ++s) {
    const nn::data::Batch& batch = loader.next();
    optimizer.zero_grad();
    const Tensor loss = nn::cross_entropy(model.forward(batch.x), batch.y);
    loss.backward();
    optimizer.step();
    losses.push_back(loss.item());
  }
  return losses;
}

}  // namespace pathgrad::course
