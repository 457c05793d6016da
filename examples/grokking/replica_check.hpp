// The replica check of a tracked run, from the tracker's exports: the kernel machine's output
// against the trained model's for every probe scalar, the per-step residuals of the path
// integral, and the mean step-wise influence on validation and training probes.
#pragma once

#include <cstdint>
#include <vector>

#include "examples/grokking/tracker_exports.hpp"

namespace pathgrad::grokking {

struct ReplicaCheck {
  std::vector<double> real, replica;               // F(θ_S) and the replica, per probe scalar
  std::vector<double> steps;                       // 0 .. S-1
  std::vector<double> residual_max, residual_mean; // max and mean |ρ_s| over probe scalars
  std::vector<double> val_influence, train_influence;  // mean φ_s·Δθ_s over each probe group
};

// `val_rows` and `train_rows` are probe-scalar rows (train_rows may be empty).
ReplicaCheck replica_check(const TrackerExports& exports, const std::vector<int64_t>& val_rows,
                           const std::vector<int64_t>& train_rows);

}  // namespace pathgrad::grokking
