// ShardPlan: checking a batch's partition into shards against the number of ranks.
#include "optim/shard_plan.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace pathgrad::optim {

ShardPlan::ShardPlan(int64_t batch, int64_t shards, int rank, int ranks, const std::string& flag)
    : batch_(batch), shards_(shards), rank_(rank), ranks_(ranks) {
  if (ranks < 1 || rank < 0 || rank >= ranks)
    throw std::invalid_argument(fmt::format("ShardPlan: rank {} of {} ranks", rank, ranks));
  if (shards < ranks || shards > batch)
    throw std::invalid_argument(fmt::format(
        "{} {}: a batch of {} samples over {} rank{} needs between {} and {} shards (every rank computes at least "
        "one shard, every shard holds at least one sample)",
        flag, shards, batch, ranks, ranks == 1 ? "" : "s", ranks, batch));
}

}  // namespace pathgrad::optim
