// One step of the sample level over ranks (docs/scaling.md): rank 0's φ̂_s to every rank, each
// rank's SampleShard step, and every rank's shares to rank 0, which then holds every training
// sample's share exactly as one process computing the same blocks would.
#pragma once

#include "explaind/sample_shard.hpp"
#include "explaind/step_record.hpp"
#include "optim/communicator.hpp"

namespace pathgrad::explaind {

// Collective: every rank of `comm` calls it for every step, with its own shard (built from the
// same ShardPlan but its rank) and the same record. Rank 0 passes φ̂_s (float64 [M_s, P]), the
// others an undefined tensor. Returns, on rank 0, the shares of all N samples ([M_s, N] and, with
// components, [C, M_s, N]); on the other ranks, undefined tensors. Sends M_s·P float64 from rank 0
// to each rank and M_s·N_r·(1 + C) float64 from each rank r to rank 0. With one rank it is
// shard.step(r, phi).
SampleShares sharded_sample_step(const optim::Communicator& comm, SampleShard& shard, const StepRecord& r,
                                 const Tensor& phi, int64_t sample_level_probes);

}  // namespace pathgrad::explaind
