// Per-training-sample optimizer buffers for the sample-wise influence (path-kernel.md §5).
//
// With momentum or Adam, sample i's gradient at step r keeps contributing to every later step
// through the optimizer's data buffer b_s = decay_s · b_{s−1} + grad_scale_s · g_s. Because the
// recurrence is linear, b_s = Σ_i b_s^(i) with one buffer per sample. We store b^(i) for every
// training sample as rows of an [N, P] matrix, lazily scaled per parameter tensor: b^(i)[seg_p] =
// σ_p · stored[i, seg_p], so a decay costs one multiplication per tensor instead of N·P.
#pragma once

#include <vector>

#include "explaind/param_layout.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::explaind {

class SampleBuffers {
 public:
  // `dtype` of the stored rows: Float64 (exact) or Float32 (half the memory, ~1e-7 relative).
  SampleBuffers(int64_t num_samples, const ParamLayout& layout, DType dtype);

  int64_t num_samples() const { return n_; }
  std::size_t bytes() const;

  // b^(i) ← decay_p · b^(i) for every sample, per parameter tensor p.
  void decay(const std::vector<double>& decay_per_param);
  // b^(ids[j]) += scale_p · (grads[p][j] · weights[j]) for every parameter tensor p: grads[p]
  // float64 [b, ...shape_p] (the per-sample gradients as per_sample_grad returns them), weights
  // float [b], ids int64 [b] in [0, N). Rounded as if the weighted rows were formed first. Split
  // over threads by parameter columns, so the result does not depend on the thread count.
  void add(const Tensor& ids, const std::vector<Tensor>& grads, const Tensor& weights,
           const std::vector<double>& scale_per_param);
  // The kernel products K[m, i] = Σ_p phi[m, seg_p] · b^(i)[seg_p] over the flat index `ranges`
  // (all of θ when empty): phi float64 [M, P] -> float64 [M, N]. One product per range
  // (kernel::row_products for float64 buffers, sgemm for float32 ones).
  Tensor products(const Tensor& phi, const std::vector<std::pair<int64_t, int64_t>>& ranges = {}) const;

  // Everything needed to continue exactly: the stored rows and the scales (for checkpoints).
  NamedTensors state() const;
  // Throws std::invalid_argument naming the tensor unless `state` is one load_state accepts: a
  // mismatch in names, shapes or dtypes, or a scale that decay() cannot produce (zero, tiny or
  // not finite).
  void check_state(const NamedTensors& state) const;
  // Restores state(), after check_state (changing nothing when it throws).
  void load_state(const NamedTensors& state);

 private:
  void renormalize(int64_t p);  // folds σ_p into the stored rows

  int64_t n_;
  ParamLayout layout_;
  Tensor stored_;              // [N, P]
  std::vector<double> sigma_;  // per parameter tensor
};

}  // namespace pathgrad::explaind
