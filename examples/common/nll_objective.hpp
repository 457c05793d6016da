// The examples' training objective, the mean NLL of a batch of log-probabilities: its gradient
// formed shard by shard over the ranks of a data-parallel run, and the same loss per sample, as
// the trackers recompute it.
#pragma once

#include <cstdint>

#include "explaind/probes.hpp"
#include "nn/data/dataset.hpp"
#include "nn/module.hpp"
#include "optim/communicator.hpp"
#include "optim/optimizer.hpp"

namespace pathgrad::examples {

// The batch's mean loss and accuracy at the current parameters.
struct BatchLoss {
  double loss = 0, accuracy = 0;
};

// Sets the optimizer's parameters' .grad to the gradient of the batch's mean NLL of
// model.forward(batch.x) against batch.y, computed over `shards` fixed shards of the batch, this
// rank's share here (optim/data_parallel.hpp: the result does not depend on the rank count).
// Each shard's loss is its sum × (1 / B), so that with one shard loss and gradient are exactly
// those of nll_loss's mean, and the accuracy is formed as kernel::mean forms it. Throws
// std::invalid_argument naming --shards when the shards do not fit the batch and the ranks.
BatchLoss backward_mean_nll(nn::Module& model, const optim::Optimizer& optimizer, const nn::data::Batch& batch,
                            int64_t shards, const optim::Communicator& comm);

// The per-sample NLL (no reduction) the trackers recompute: the training loss, sample by sample.
explaind::LossFn per_sample_nll();

}  // namespace pathgrad::examples
