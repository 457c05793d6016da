// Component influence per window, similarity matrices and data influence from the tracker's
// exports.
#include "examples/grokking/influence.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "examples/grokking/probes.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::grokking {

namespace K = kernel;
using examples::take_column_ranges;
using examples::window_ranges;
using examples::window_slice;

std::vector<std::string> layer_components() {
  return {"embed.weight", "attn.qkv.weight", "attn.out.weight", "mlp.fc1.*", "mlp.fc2.*", "decoder.weight"};
}

std::vector<std::string> head_component_names(int64_t heads) {
  std::vector<std::string> out;
  for (const auto& c : head_components(ModelShape{.heads = heads})) out.push_back(c.name);
  return out;
}

namespace {

Tensor index(const std::vector<int64_t>& v) { return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}); }

// A [R, C] matrix with rows and columns permuted.
Tensor permuted(const Tensor& m, const std::vector<int64_t>& rows, const std::vector<int64_t>& cols) {
  return K::index_select(K::index_select(m, 0, index(rows)), 1, index(cols));
}

}  // namespace

SumOrder sum_order(const TrackerExports& exports, const nn::data::ModularData& data) {
  SumOrder o;
  const std::vector<int64_t> probe_ids = exports.sample_level_ids();
  o.probe_order = order_by_sum(data.val.pairs, probe_ids);
  const std::vector<int64_t> sums = pair_sums(data.val.pairs, probe_ids);
  for (int64_t k : o.probe_order) o.probe_sums.push_back(sums[k]);
  std::vector<int64_t> all(static_cast<size_t>(data.train.size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  o.sample_order = order_by_sum(data.train.pairs, all);
  o.sample_sums = pair_sums(data.train.pairs, o.sample_order);
  return o;
}

Tensor cosine_similarity(const Tensor& rows) {
  const Tensor norms = K::sqrt(K::sum(K::mul(rows, rows), {1}, true));  // [R, 1]
  const Tensor unit = K::div(rows, norms);                              // NaN for a zero row
  return K::matmul(unit, K::transpose(unit, 0, 1));
}

std::vector<Similarity> similarities(const TrackerExports& exports, const std::vector<std::string>& components,
                                     const SumOrder& order) {
  const Tensor windows = exports.load("parameter_window_data");  // [W, M_s, P]
  const Tensor total = exports.load("parameter_data");           // [M_s, P]
  std::vector<StepRange> ranges = window_ranges(exports);
  ranges.push_back({0, exports.steps()});
  const Tensor probes = index(order.probe_order);
  std::vector<Similarity> out;
  for (const std::string& name : components) {
    const auto columns = exports.component_ranges(name);
    for (size_t w = 0; w < ranges.size(); ++w) {
      const Tensor influence = w + 1 < ranges.size() ? window_slice(windows, static_cast<int64_t>(w)) : total;
      const Tensor sorted = K::index_select(take_column_ranges(influence, columns), 0, probes);
      out.push_back({name, ranges[w], cosine_similarity(sorted)});
    }
  }
  return out;
}

std::vector<DataInfluence> data_influences(const TrackerExports& exports, const SumOrder& order) {
  const Tensor windows = exports.load("sample_window_data");  // [W, M_s, N]
  const Tensor total = exports.load("sample_data");           // [M_s, N]
  std::vector<StepRange> ranges = window_ranges(exports);
  ranges.push_back({0, exports.steps()});
  std::vector<DataInfluence> out;
  for (size_t w = 0; w < ranges.size(); ++w) {
    const Tensor m = w + 1 < ranges.size() ? window_slice(windows, static_cast<int64_t>(w)) : total;
    out.push_back({ranges[w], permuted(m, order.probe_order, order.sample_order)});
  }
  return out;
}

}  // namespace pathgrad::grokking
