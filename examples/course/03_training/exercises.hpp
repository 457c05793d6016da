// Lesson 3 exercises: the loss, the accuracy and the training loop.
// Reference solutions: solutions.cpp beside this file; tests: tests/course/test_03_training.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/data/loader.hpp"
#include "nn/module.hpp"
#include "optim/optimizer.hpp"

namespace pathgrad::course {

// Exercise 3.1 — accuracy.
// logits [B, C] (float32 or float64), labels int64 [B] -> the fraction of rows whose largest logit
// is at the label, in [0, 1]. Hint: kernel::argmax(logits, 1) and kernel::eq.
double accuracy(const Tensor& logits, const Tensor& labels);

// Exercise 3.2 — cross-entropy, differentiable, from the engine's ops.
// logits [B, C], labels int64 [B] -> a 0-d tensor: the mean over the batch of
//     ℓ_b = −log softmax(logits_b)[label_b] = logsumexp(logits_b) − logits_b[label_b].
// Build it from autograd/ops.hpp (logsumexp, gather, mean, ...) so that backward() works.
// Hint: gather(logits, 1, labels reshaped to [B, 1]) picks logits_b[label_b] as [B, 1].
Tensor cross_entropy_by_hand(const Tensor& logits, const Tensor& labels);

// Exercise 3.3 — the training loop.
// Run `steps` optimizer steps on `model` (its forward returns logits [B, C]): for each, take the
// loader's next batch, clear the gradients, compute the mean cross-entropy of the batch
// (nn::cross_entropy), backpropagate it and step the optimizer. Return the loss of every step,
// in order. Hint: loader.next() returns a nn::data::Batch with .x and .y; the loss is a 0-d tensor
// (.item() reads it).
std::vector<double> train_steps(nn::Module& model, optim::Optimizer& optimizer, nn::data::DataLoader& loader,
                                int64_t steps);

}  // namespace pathgrad::course
