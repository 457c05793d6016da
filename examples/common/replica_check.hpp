// The replica check of a tracked run, from the tracker's exports: the kernel machine's output
// against the trained model's for every probe scalar, the per-step residuals of the path
// integral, and the step-wise influence φ̂_s·Δθ_s.
#pragma once

#include <cstdint>
#include <vector>

#include "examples/common/tracker_exports.hpp"

namespace pathgrad::examples {

struct ReplicaCheck {
  std::vector<double> real, replica;                // F(θ_S) and the replica, per probe scalar
  std::vector<double> steps;                        // 0 .. S-1
  std::vector<double> residual_max, residual_mean;  // max and mean |ρ_s| over probe scalars
  Tensor step_influence;                            // float64 [S, M]: φ̂_s·Δθ_s

  // Mean of the step-wise influence over the probe-scalar `rows`, per step; empty when there
  // are no rows.
  std::vector<double> mean_influence(const std::vector<int64_t>& rows) const;
};

ReplicaCheck replica_check(const TrackerExports& exports);

// Running sums: out[i] = v[0] + ... + v[i].
std::vector<double> running_sum(std::vector<double> v);

}  // namespace pathgrad::examples
