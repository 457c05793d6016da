// EndTable: each end (input, t) of a set's pieces evaluated once per step.
#include "explaind/end_table.hpp"

#include "tensor/kernels.hpp"

namespace pathgrad::explaind {
namespace K = kernel;

namespace {
// Rows `index` of every tensor of r.
EndRows select_rows(const EndRows& r, const std::vector<int64_t>& index) {
  const Tensor i = Tensor::from_vector(index, {static_cast<int64_t>(index.size())});
  EndRows out{K::index_select(r.values, 0, i), {}, {}};
  for (const Tensor& z : r.relu) out.relu.push_back(K::index_select(z, 0, i));
  for (const KinkRecorder::Pool& p : r.pools)
    out.pools.push_back({K::index_select(p.input, 0, i), K::index_select(p.indices, 0, i)});
  return out;
}

}  // namespace

size_t bytes_of(const EndRows& r) {
  auto bytes = [](const Tensor& t) { return static_cast<size_t>(t.numel()) * dtype_size(t.dtype()); };
  size_t n = bytes(r.values);
  for (const Tensor& z : r.relu) n += bytes(z);
  for (const KinkRecorder::Pool& p : r.pools) n += bytes(p.input) + bytes(p.indices);
  return n;
}

EndRows concat_rows(const std::vector<EndRows>& parts) {
  if (parts.size() == 1) return parts.front();
  auto cat = [&](auto field) {
    std::vector<Tensor> ts;
    for (const EndRows& p : parts) ts.push_back(field(p));
    return K::cat(ts, 0);
  };
  EndRows out{cat([](const EndRows& p) { return p.values; }), {}, {}};
  for (size_t k = 0; k < parts.front().relu.size(); ++k)
    out.relu.push_back(cat([k](const EndRows& p) { return p.relu[k]; }));
  for (size_t k = 0; k < parts.front().pools.size(); ++k)
    out.pools.push_back({cat([k](const EndRows& p) { return p.pools[k].input; }),
                         cat([k](const EndRows& p) { return p.pools[k].indices; })});
  return out;
}

EndRows EndTable::rows(const std::vector<int64_t>& inputs, const std::vector<double>& t, const Evaluate& evaluate,
                       std::vector<int64_t>& row_of) {
  // The kept ends asked for, block by block; then the others.
  std::vector<std::vector<int64_t>> wanted(blocks_.size());
  std::vector<std::pair<size_t, int64_t>> where(inputs.size(), {blocks_.size(), 0});
  for (size_t e = 0; e < inputs.size(); ++e) {
    const auto it = index_.find({inputs[e], t[e]});
    if (it == index_.end()) continue;
    const auto [block, row] = it->second;
    where[e] = {block, static_cast<int64_t>(wanted[block].size())};
    wanted[block].push_back(row);
  }
  std::vector<EndRows> parts;
  std::vector<int64_t> offset(blocks_.size() + 1, 0);
  int64_t rows_so_far = 0;
  for (size_t b = 0; b < blocks_.size(); ++b) {
    offset[b] = rows_so_far;
    if (wanted[b].empty()) continue;
    parts.push_back(select_rows(blocks_[b], wanted[b]));
    rows_so_far += static_cast<int64_t>(wanted[b].size());
  }
  offset[blocks_.size()] = rows_so_far;
  std::vector<int64_t> fresh_inputs;
  std::vector<double> fresh_t;
  std::vector<std::pair<int64_t, double>> fresh_ends;
  for (size_t e = 0; e < inputs.size(); ++e)
    if (where[e].first == blocks_.size()) {
      where[e].second = static_cast<int64_t>(fresh_t.size());
      fresh_inputs.push_back(inputs[e]);
      fresh_t.push_back(t[e]);
      fresh_ends.emplace_back(inputs[e], t[e]);
    }
  row_of.resize(inputs.size());
  for (size_t e = 0; e < inputs.size(); ++e) row_of[e] = offset[where[e].first] + where[e].second;
  if (!fresh_t.empty()) {
    const EndRows fresh = evaluate(fresh_inputs, fresh_t);
    keep(fresh_ends, fresh);
    parts.push_back(fresh);
  }
  return concat_rows(parts);
}

void EndTable::add(const std::vector<int64_t>& inputs, const std::vector<double>& t, EndRows rows) {
  std::vector<std::pair<int64_t, double>> ends;
  for (size_t r = 0; r < inputs.size(); ++r) ends.emplace_back(inputs[r], t[r]);
  if (!ends.empty()) keep(ends, std::move(rows));
}

void EndTable::add(const std::vector<int64_t>& inputs, const std::vector<double>& t, const EndRows& rows,
                   const std::vector<int64_t>& which) {
  std::vector<std::pair<int64_t, double>> ends;
  for (int64_t r : which) ends.emplace_back(inputs[r], t[r]);
  if (!ends.empty()) keep(ends, select_rows(rows, which));
}

void EndTable::keep(const std::vector<std::pair<int64_t, double>>& ends, EndRows rows) {
  if (!keep_units_) {
    rows.relu.clear();
    rows.pools.clear();
  }
  const size_t n = bytes_of(rows);
  if (bytes_ + n > max_bytes_) return;
  for (size_t e = 0; e < ends.size(); ++e) index_.emplace(ends[e], std::pair{blocks_.size(), static_cast<int64_t>(e)});
  blocks_.push_back(std::move(rows));
  bytes_ += n;
}

void EndTable::clear() {
  index_.clear();
  blocks_.clear();
  bytes_ = 0;
}

}  // namespace pathgrad::explaind
