// Replica, residual and step-influence series of a tracked run.
#include "examples/common/replica_check.hpp"

#include "tensor/kernels.hpp"

namespace pathgrad::examples {

namespace K = kernel;

std::vector<double> ReplicaCheck::mean_influence(const std::vector<int64_t>& rows) const {
  if (rows.empty()) return {};
  const Tensor cols =
      K::index_select(step_influence, 1, Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())}));  // [S, R]
  return K::mean(cols, {1}).to_vector();
}

ReplicaCheck replica_check(const TrackerExports& exports) {
  ReplicaCheck r;
  r.real = exports.load("real_outputs").to_vector();
  r.replica = exports.load("replica").to_vector();
  const Tensor residuals = K::abs(exports.load("residuals"));  // [S, M]
  r.residual_max = K::amax(residuals, {1}).to_vector();
  r.residual_mean = K::mean(residuals, {1}).to_vector();
  for (size_t s = 0; s < r.residual_max.size(); ++s) r.steps.push_back(static_cast<double>(s));
  r.step_influence = exports.load("step_influence");
  return r;
}

std::vector<double> running_sum(std::vector<double> v) {
  for (size_t i = 1; i < v.size(); ++i) v[i] += v[i - 1];
  return v;
}

}  // namespace pathgrad::examples
