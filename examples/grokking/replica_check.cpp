// Replica, residual and step-influence series of a tracked grokking run.
#include "examples/grokking/replica_check.hpp"

namespace pathgrad::grokking {

ReplicaCheck replica_check(const examples::TrackerExports& exports, const std::vector<int64_t>& val_rows,
                           const std::vector<int64_t>& train_rows) {
  ReplicaCheck r{examples::replica_check(exports), {}, {}};
  r.val_influence = r.mean_influence(val_rows);
  r.train_influence = r.mean_influence(train_rows);
  return r;
}

}  // namespace pathgrad::grokking
