// Evaluating a model at per-row points of a straight path in parameter space, and recording the
// kinks (ReLU pre-activations) met on the way — the tools of exact path integrals
// (path-kernel.md §4b).
//
// While a PathPointGuard is alive in a thread, every operation that consumes one of its
// parameters W (a leaf) computes row r of its batch with W + t[r]·ΔW instead of W. Because every
// parameter enters its operation linearly, linear, matmul (parameter on the right), embedding and
// conv2d do this with two products, op(x, W) + t ⊙ op(x, ΔW); broadcasting elementwise ops
// materialise W + t ⊗ ΔW per row (meant for small parameters: biases, norms). Gradients with
// respect to W (ordinary, per-sample or contracted) are then gradients at each row's own point.
// No per-row copies of large weights are made.
//
// While a KinkRecorder is alive, relu records its input (the pre-activation) on every call.
// It also records every max-pool's input and chosen positions (a window whose maximum moves is a
// kink too).
#pragma once

#include <unordered_map>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad {

struct PathPoint {
  std::unordered_map<const TensorImpl*, Tensor> deltas;  // parameter -> ΔW (same shape and dtype)
  Tensor t;                                              // [R]: the point of each row
};

class PathPointGuard {
 public:
  // params[i] moves along deltas[i]; t [R] in the parameters' dtype. Throws on mismatched shapes
  // or dtypes, or when another guard is active in this thread.
  PathPointGuard(const std::vector<Tensor>& params, const std::vector<Tensor>& deltas, const Tensor& t);
  ~PathPointGuard();
  PathPointGuard(const PathPointGuard&) = delete;
  PathPointGuard& operator=(const PathPointGuard&) = delete;

 private:
  PathPoint point_;
};

// The active path point of this thread, or null.
const PathPoint* current_path_point();
// ΔW of a parameter under the active path point, or an undefined tensor.
Tensor path_delta(const Tensor& param);
// t reshaped to broadcast against a batch tensor of `ndim` dims whose dim 0 is the row:
// [R, 1, ..., 1]. Throws naming `op` if the batch does not have R rows.
Tensor path_t_for(const Tensor& batch, const char* op);
// The value of `param` for an operation whose other operand is `batch` ([R, ...]): the parameter
// itself, or under a path point W + t ⊗ ΔW shaped [R, 1.., W's shape] to broadcast against batch.
Tensor path_value(const Tensor& param, const Tensor& batch, const char* op);

class KinkRecorder {
 public:
  KinkRecorder();
  ~KinkRecorder();
  KinkRecorder(const KinkRecorder&) = delete;
  KinkRecorder& operator=(const KinkRecorder&) = delete;
  bool empty() const { return recorded_.empty(); }
  // Every recorded pre-activation flattened per row and concatenated: [R, units].
  Tensor units() const;
  // The recorded pre-activations as they were, one per relu call in forward order.
  const std::vector<Tensor>& preactivations() const { return recorded_; }
  // Every max-pool call in forward order: its input [R, C, H, W] and the position of each
  // window's maximum in the input plane, int64 [R, C, OH, OW] (kernel::PoolResult::indices).
  struct Pool {
    Tensor input, indices;
  };
  const std::vector<Pool>& pools() const { return pools_; }
  // Called by relu and by the max-pools.
  static void record(const Tensor& preactivation);
  static void record_pool(const Tensor& input, const Tensor& indices);

 private:
  std::vector<Tensor> recorded_;
  std::vector<Pool> pools_;
};

}  // namespace pathgrad
