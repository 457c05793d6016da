// backward_over_shards: the shard gradients gathered from every rank and added in shard order.
#include "optim/data_parallel.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace pathgrad::optim {
namespace {

// One shard's record in the gathered buffer: [values][a defined flag per parameter][every
// parameter's gradient, flattened, in parameter order].
struct Layout {
  int64_t values, params, numel;
  int64_t size() const { return values + params + numel; }
};

Layout layout_of(const NamedTensors& params, int64_t values) {
  Layout l{values, static_cast<int64_t>(params.size()), 0};
  for (const auto& [name, p] : params) l.numel += p.numel();
  return l;
}

// Appends one shard's record: its values, then the parameters' current .grad (zeros when undefined).
void append_record(std::vector<double>& out, const NamedTensors& params, const std::vector<double>& values) {
  out.insert(out.end(), values.begin(), values.end());
  for (const auto& [name, p] : params) out.push_back(p.grad().defined() ? 1.0 : 0.0);
  for (const auto& [name, p] : params) {
    const Tensor g = p.grad();
    if (!g.defined()) {
      out.insert(out.end(), static_cast<size_t>(p.numel()), 0.0);
      continue;
    }
    const Tensor g64 = g.to(DType::Float64).contiguous();
    const double* d = g64.data<double>();
    out.insert(out.end(), d, d + g64.numel());
  }
}

// Sets each parameter's .grad to the shard-order sum of the gathered records.
void install_sums(const NamedTensors& params, const Layout& l, const std::vector<double>& all, int64_t shards) {
  int64_t offset = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i].second;
    std::vector<double> sum;
    for (int64_t k = 0; k < shards; ++k) {
      const double* record = all.data() + k * l.size();
      if (record[l.values + static_cast<int64_t>(i)] == 0.0) continue;
      const double* g = record + l.values + l.params + offset;
      if (sum.empty())
        sum.assign(g, g + p.numel());
      else
        for (size_t j = 0; j < sum.size(); ++j) sum[j] += g[j];
    }
    offset += p.numel();
    p.set_grad(sum.empty() ? Tensor() : Tensor::from_buffer(sum.data(), p.shape(), DType::Float64).to(p.dtype()));
  }
}

}  // namespace

std::vector<double> backward_over_shards(const NamedTensors& params, const ShardPlan& plan, const Communicator& comm,
                                         int64_t values, const ShardBackward& shard_backward) {
  if (plan.ranks() != comm.size())
    throw std::invalid_argument(
        fmt::format("backward_over_shards: a plan for {} ranks, run on {}", plan.ranks(), comm.size()));
  const Layout l = layout_of(params, values);
  std::vector<double> mine;
  for (int64_t k = plan.first_shard(); k < plan.end_shard(); ++k) {
    for (const auto& [name, p] : params) p.set_grad(Tensor());
    const std::vector<double> v = shard_backward(plan.begin(k), plan.end(k));
    if (static_cast<int64_t>(v.size()) != values)
      throw std::invalid_argument(
          fmt::format("backward_over_shards: shard {} returned {} values, expected {}", k, v.size(), values));
    append_record(mine, params, v);
  }
  std::vector<int64_t> counts;
  for (int r = 0; r < plan.ranks(); ++r)
    counts.push_back((plan.first_shard_of(r + 1) - plan.first_shard_of(r)) * l.size());
  const std::vector<double> all = comm.all_gather(mine, counts);
  install_sums(params, l, all, plan.shards());
  std::vector<double> sums(static_cast<size_t>(values), 0.0);
  for (int64_t k = 0; k < plan.shards(); ++k)
    for (int64_t j = 0; j < values; ++j) sums[static_cast<size_t>(j)] += all[static_cast<size_t>(k * l.size() + j)];
  return sums;
}

}  // namespace pathgrad::optim
