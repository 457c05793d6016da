// The replica check of a tracked grokking run (examples/common/replica_check.hpp) with the mean
// step-wise influence on the validation and on the training probes.
#pragma once

#include <cstdint>
#include <vector>

#include "examples/common/replica_check.hpp"

namespace pathgrad::grokking {

struct ReplicaCheck : examples::ReplicaCheck {
  std::vector<double> val_influence, train_influence;  // mean φ_s·Δθ_s over each probe group
};

// `val_rows` and `train_rows` are probe-scalar rows (train_rows may be empty).
ReplicaCheck replica_check(const examples::TrackerExports& exports, const std::vector<int64_t>& val_rows,
                           const std::vector<int64_t>& train_rows);

}  // namespace pathgrad::grokking
