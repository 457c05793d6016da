// Replica, residual and step-influence series of a tracked grokking run.
#include "examples/grokking/replica_check.hpp"

#include "tensor/kernels.hpp"

namespace pathgrad::grokking {

namespace K = kernel;

namespace {
// Mean over `rows` (columns of a [S, M] matrix) per step; empty when there are no rows.
std::vector<double> mean_of_columns(const Tensor& per_step, const std::vector<int64_t>& rows) {
  if (rows.empty()) return {};
  const Tensor cols = K::index_select(per_step, 1, Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())}));
  return K::mean(cols, {1}).to_vector();
}
}  // namespace

ReplicaCheck replica_check(const TrackerExports& exports, const std::vector<int64_t>& val_rows,
                           const std::vector<int64_t>& train_rows) {
  ReplicaCheck r;
  r.real = exports.load("real_outputs").to_vector();
  r.replica = exports.load("replica").to_vector();
  const Tensor residuals = K::abs(exports.load("residuals"));  // [S, M]
  r.residual_max = K::amax(residuals, {1}).to_vector();
  r.residual_mean = K::mean(residuals, {1}).to_vector();
  for (size_t s = 0; s < r.residual_max.size(); ++s) r.steps.push_back(static_cast<double>(s));
  const Tensor influence = exports.load("step_influence");  // [S, M]
  r.val_influence = mean_of_columns(influence, val_rows);
  r.train_influence = mean_of_columns(influence, train_rows);
  return r;
}

}  // namespace pathgrad::grokking
