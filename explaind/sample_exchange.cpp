// The sample level's messages: φ̂ broadcast from rank 0, the shares gathered to rank 0.
#include "explaind/sample_exchange.hpp"

#include "tensor/kernels.hpp"

namespace pathgrad::explaind {
namespace K = kernel;

namespace {

// Rank 0's φ̂ on every rank.
Tensor broadcast_phi(const optim::Communicator& comm, const Tensor& phi, int64_t Ms, int64_t P) {
  std::vector<double> values =
      comm.is_root() ? phi.contiguous().to_vector() : std::vector<double>(static_cast<size_t>(Ms * P));
  comm.broadcast(values);
  return comm.is_root() ? phi : Tensor::from_vector(values, {Ms, P}, DType::Float64);
}

// Every rank's shares on rank 0, each rank's columns at its samples.
SampleShares gather_shares(const optim::Communicator& comm, const SampleShard& shard, const SampleShares& mine,
                           int64_t Ms) {
  const int64_t C = shard.num_components(), N = shard.begin_of(comm.size());
  std::vector<int64_t> counts;
  for (int q = 0; q < comm.size(); ++q) counts.push_back(Ms * (1 + C) * (shard.begin_of(q + 1) - shard.begin_of(q)));
  std::vector<double> flat = mine.total.contiguous().to_vector();
  if (C) {
    const std::vector<double> comps = mine.components.contiguous().to_vector();
    flat.insert(flat.end(), comps.begin(), comps.end());
  }
  const std::vector<double> all = comm.gather(flat, counts);
  if (!comm.is_root()) return {};
  SampleShares every{Tensor::zeros({Ms, N}, DType::Float64), C ? Tensor::zeros({C, Ms, N}, DType::Float64) : Tensor()};
  auto at = all.begin();
  for (int q = 0; q < comm.size(); ++q) {
    const int64_t lo = shard.begin_of(q), w = shard.begin_of(q + 1) - lo;
    const auto take = [&](const Shape& shape, int64_t count) {
      const Tensor t = Tensor::from_vector(std::vector<double>(at, at + count), shape, DType::Float64);
      at += count;
      return t;
    };
    K::narrow(every.total, 1, lo, w).copy_(take({Ms, w}, Ms * w));
    if (C) K::narrow(every.components, 2, lo, w).copy_(take({C, Ms, w}, C * Ms * w));
  }
  return every;
}

}  // namespace

SampleShares sharded_sample_step(const optim::Communicator& comm, SampleShard& shard, const StepRecord& r,
                                 const Tensor& phi, int64_t sample_level_probes) {
  if (comm.size() == 1) return shard.step(r, phi);
  const int64_t P = r.theta0.numel();
  const SampleShares mine = shard.step(r, broadcast_phi(comm, phi, sample_level_probes, P));
  return gather_shares(comm, shard, mine, sample_level_probes);
}

}  // namespace pathgrad::explaind
