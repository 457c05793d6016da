// Data-parallel gradients: every rank computes the gradients of its shards of the batch
// (shard_plan.hpp), every rank receives every shard's, and every rank adds them in shard order.
// The sum does not depend on how many ranks computed the shards, so a run is bit-identical for
// every rank count that its shard count allows (docs/scaling.md).
//
//   const ShardPlan plan(batch.size, config.shards, comm.rank(), comm.size(), "--shards");
//   optimizer.zero_grad();
//   const std::vector<double> sums = backward_over_shards(optimizer.named_parameters(), plan, comm, 1,
//       [&](int64_t begin, int64_t end) {
//         Tensor loss = nn::nll_loss(model.forward(rows(begin, end)), targets(begin, end), Reduction::Sum) * (1.0 / B);
//         loss.backward();
//         return std::vector<double>{loss.item()};
//       });
//   optimizer.step();   // identical on every rank
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "optim/communicator.hpp"
#include "optim/shard_plan.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::optim {

// Runs the forward and backward pass of the batch rows [begin, end), accumulating into the
// parameters' .grad, and returns what the shard adds to the batch's statistics (e.g. its share of
// the loss, its correct predictions).
using ShardBackward = std::function<std::vector<double>(int64_t begin, int64_t end)>;

// For each of this rank's shards, in order: clears every parameter's .grad, calls
// shard_backward(begin, end), and keeps the gradients and the `values` numbers it returned. Then
// every rank receives every shard's (comm.all_gather) and sets each parameter's .grad to the sum
// over shards, formed in shard order in float64 from the first shard that has one and rounded
// once to the parameter's dtype (a shard without a .grad for a parameter adds nothing; none: the
// .grad stays undefined). Returns the shards' values, summed in shard order in float64.
// With one shard the .grad is exactly what shard_backward left (float32 → float64 → float32 is
// exact). Every rank must call it with the same parameters, plan (but its own rank) and `values`.
// Throws std::invalid_argument when shard_backward returns another number of values; exceptions
// of shard_backward propagate (on one rank only: the others then wait in all_gather, so a
// program ends the run with Communicator::abort).
std::vector<double> backward_over_shards(const NamedTensors& params, const ShardPlan& plan, const Communicator& comm,
                                         int64_t values, const ShardBackward& shard_backward);

}  // namespace pathgrad::optim
