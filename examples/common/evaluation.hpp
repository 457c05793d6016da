// Loss and accuracy of a classifier that outputs log-probabilities, without recording a graph.
#pragma once

#include <cstdint>

#include "nn/module.hpp"

namespace pathgrad::examples {

// Accuracy of log-probabilities [B, C] against labels int64 [B].
double accuracy(const Tensor& log_probs, const Tensor& y);

// `model` on inputs x [N, ...] in batches of `batch_size` inputs (0: all at once), without
// recording a graph: its outputs [N, C].
Tensor outputs(nn::Module& model, const Tensor& x, int64_t batch_size = 0);

struct Evaluation {
  double loss = 0, accuracy = 0;  // mean NLL loss, fraction correct
};
// `model` on inputs x [N, ...] with labels y [N], in batches of `batch_size` inputs (0: all at
// once). The loss is the mean over all N inputs.
Evaluation evaluate(nn::Module& model, const Tensor& x, const Tensor& y, int64_t batch_size = 0);

}  // namespace pathgrad::examples
