// Data split, probe choice and the a + b ordering of the grokking example.
#include "examples/grokking/probes.hpp"

#include <algorithm>
#include <numeric>

#include "tensor/kernels.hpp"
#include "tensor/random.hpp"

namespace pathgrad::grokking {

nn::data::ModularData make_data(const Config& c) {
  return nn::data::make_modular_data(nn::data::ModularOptions()
                                         .p(c.p)
                                         .n_train(c.n_train)
                                         .n_val(c.n_val)
                                         .seed(c.split_seed)
                                         .op(nn::data::ModularOp::Add));
}

namespace {
// The first `count` entries of a random permutation of 0..n-1.
std::vector<int64_t> draw(int64_t n, int64_t count, Generator& gen) {
  const Tensor perm = randperm(n, gen);
  const int64_t* p = perm.data<int64_t>();
  return std::vector<int64_t>(p, p + std::min(count, n));
}

explaind::ProbeSet probe_set(const char* name, const nn::data::ModularSplit& split, const std::vector<int64_t>& ids,
                             bool sample_level) {
  const Tensor index = Tensor::from_vector(ids, {static_cast<int64_t>(ids.size())});
  explaind::ProbeSet set;
  set.name = name;
  set.x = kernel::index_select(split.x, 0, index);
  set.y = kernel::index_select(split.y, 0, index);
  set.ids = ids;
  set.weightings = {explaind::OutputWeighting::label()};
  set.sample_level = sample_level;
  return set;
}
}  // namespace

ProbeChoice choose_probes(const nn::data::ModularData& data, const Config& c) {
  Generator gen(c.probe_seed);
  ProbeChoice choice;
  const std::vector<int64_t> val = draw(data.val.size(), c.val_probes, gen);
  const auto split = val.begin() + std::min<int64_t>(c.sample_probes, static_cast<int64_t>(val.size()));
  choice.sample_level.assign(val.begin(), split);
  choice.validation.assign(split, val.end());
  choice.train = draw(data.train.size(), c.train_probes, gen);
  choice.outputs.assign(val.begin(),
                        val.begin() + std::min<int64_t>(c.output_probes, static_cast<int64_t>(val.size())));
  return choice;
}

std::vector<explaind::ProbeSet> make_probe_sets(const nn::data::ModularData& data, const ProbeChoice& choice) {
  std::vector<explaind::ProbeSet> sets{probe_set(kSampleLevelSet, data.val, choice.sample_level, true)};
  if (!choice.validation.empty()) sets.push_back(probe_set(kValidationSet, data.val, choice.validation, false));
  if (!choice.train.empty()) sets.push_back(probe_set(kTrainSet, data.train, choice.train, false));
  if (!choice.outputs.empty()) {
    sets.push_back(probe_set(kOutputSet, data.val, choice.outputs, false));
    sets.back().weightings = {explaind::OutputWeighting::all_outputs()};
  }
  return sets;
}

std::vector<int64_t> pair_sums(const Tensor& pairs, const std::vector<int64_t>& ids) {
  const Tensor c = pairs.contiguous();
  const int64_t* ab = c.data<int64_t>();
  std::vector<int64_t> sums;
  sums.reserve(ids.size());
  for (int64_t i : ids) sums.push_back(ab[2 * i] + ab[2 * i + 1]);
  return sums;
}

std::vector<int64_t> order_by_sum(const Tensor& pairs, const std::vector<int64_t>& ids) {
  const std::vector<int64_t> sums = pair_sums(pairs, ids);
  const Tensor c = pairs.contiguous();
  const int64_t* ab = c.data<int64_t>();
  std::vector<int64_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
    return sums[x] != sums[y] ? sums[x] < sums[y] : ab[2 * ids[x]] < ab[2 * ids[y]];
  });
  return order;
}

}  // namespace pathgrad::grokking
