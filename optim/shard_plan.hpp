// A fixed partition of every batch into shards, and the shards one rank of a data-parallel run
// computes. The partition depends only on the batch size and the number of shards, never on the
// number of ranks: that is what makes a run bit-identical across rank counts (docs/scaling.md).
//
//   ShardPlan plan(4000, 4, comm.rank(), comm.size(), "--shards");
//   for (int64_t k = plan.first_shard(); k < plan.end_shard(); ++k) ... rows [plan.begin(k), plan.end(k))
#pragma once

#include <cstdint>
#include <string>

namespace pathgrad::optim {

class ShardPlan {
 public:
  // Shard k holds the batch rows [k·batch/shards, (k+1)·batch/shards) (integer division: sizes
  // differ by at most one); rank r of `ranks` computes the shards [r·shards/ranks,
  // (r+1)·shards/ranks), so that rank order is shard order. Throws std::invalid_argument naming
  // `flag` (the setting that chose `shards`) unless 1 <= ranks <= shards <= batch and
  // 0 <= rank < ranks.
  ShardPlan(int64_t batch, int64_t shards, int rank, int ranks, const std::string& flag);

  int64_t batch() const { return batch_; }
  int64_t shards() const { return shards_; }
  int rank() const { return rank_; }
  int ranks() const { return ranks_; }
  int64_t begin(int64_t shard) const { return shard * batch_ / shards_; }
  int64_t end(int64_t shard) const { return begin(shard + 1); }
  // This rank's shards: [first_shard(), end_shard()).
  int64_t first_shard() const { return first_shard_of(rank_); }
  int64_t end_shard() const { return first_shard_of(rank_ + 1); }
  // The first shard of rank r (r == ranks(): shards()).
  int64_t first_shard_of(int r) const { return static_cast<int64_t>(r) * shards_ / ranks_; }

 private:
  int64_t batch_, shards_;
  int rank_, ranks_;
};

}  // namespace pathgrad::optim
