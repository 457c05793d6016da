// The sample level of one rank (path-kernel.md §5, docs/scaling.md): the per-sample optimizer
// buffers of its training samples and their shares in each step.
//
// The N training samples are cut into K fixed, contiguous blocks (optim::ShardPlan over N, K the
// tracker's sample_shards); rank r of R owns blocks r·K/R to (r+1)·K/R − 1, i.e. one contiguous
// range of samples, and holds their buffers only (about N·P/R). Every computation is made block by
// block — the per-sample gradients of the batch rows whose samples are in the block, in batch
// order, in chunks of chunk_size; one product GEMM per block — so that a block's shares are
// bit-identical whichever rank, and however many ranks, compute them. With K = 1 this is the
// single-process sample level as it always was.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "explaind/components.hpp"
#include "explaind/param_layout.hpp"
#include "explaind/probes.hpp"
#include "explaind/sample_buffers.hpp"
#include "explaind/step_record.hpp"
#include "optim/shard_plan.hpp"

namespace pathgrad::explaind {

// The shares of a range of training samples [begin, end) in one step: total float64
// [M_s, end − begin] and, with components, float64 [C, M_s, end − begin] (else undefined).
struct SampleShares {
  Tensor total, components;
};

class SampleShard {
 public:
  // `blocks`: ShardPlan(N, K, rank, R). `eval_params` are the parameters `forward` reads (the
  // per-sample gradients are taken at θ_s written into them); `components` non-empty: also the
  // shares per component. Buffers of `buffer_dtype` (Float64 or Float32).
  SampleShard(const optim::ShardPlan& blocks, ForwardFn forward, LossFn loss, NamedTensors eval_params,
              std::vector<ResolvedComponent> components, DType buffer_dtype, int64_t chunk_size);

  const optim::ShardPlan& blocks() const { return blocks_; }
  // The samples of rank r: [begin_of(r), begin_of(r + 1)); this rank's: [begin(), end()).
  int64_t begin_of(int rank) const { return blocks_.begin(blocks_.first_shard_of(rank)); }
  int64_t begin() const { return begin_of(blocks_.rank()); }
  int64_t end() const { return begin_of(blocks_.rank() + 1); }
  int64_t num_components() const { return static_cast<int64_t>(components_.size()); }
  std::size_t bytes() const;

  // One step with φ̂_s = phi float64 [M_s, P]: decays the buffers (r.buffer_decay), adds a_i ∇ℓ_i
  // at r.theta0 of the batch's samples in this shard (r.grad_scale), and returns this shard's
  // shares: φ̂ ⊙ direct_coef · a_i ∇ℓ_i for its batch samples plus φ̂ ⊙ buffer_coef · b^(i) for
  // all its samples. Throws std::invalid_argument when r lacks the linear form or the batch.
  SampleShares step(const StepRecord& r, const Tensor& phi);

  // Writes <dir>/sample_buffers_<k>_of_<K>.safetensors for each block k of this rank, recording
  // the block, its samples and `steps` (the steps accounted for).
  void save(const std::string& dir, int64_t steps) const;
  // Restores the files save() wrote for this rank's blocks after `steps` steps. Reads and checks
  // every one (block, samples, steps, tensors) before changing anything; throws
  // std::runtime_error naming the file, e.g. when the run was saved with another K.
  void load(const std::string& dir, int64_t steps);

 private:
  // Block k's shares, with φ̂ ⊙ direct_coef (undefined: no direct part) and φ̂ ⊙ buffer_coef.
  SampleShares block_step(int64_t k, const StepRecord& r, const Tensor& phi_direct, const Tensor& phi_buffer);
  std::string file_of(const std::string& dir, int64_t k) const;

  optim::ShardPlan blocks_;
  ForwardFn forward_;
  LossFn loss_;
  NamedTensors eval_params_;
  ParamLayout layout_;
  std::vector<ResolvedComponent> components_;
  int64_t chunk_size_;
  std::vector<SampleBuffers> buffers_;  // of blocks first_shard() ...
};

}  // namespace pathgrad::explaind
