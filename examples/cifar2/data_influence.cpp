// Proponents and opponents from the sample-level exports.
#include "examples/cifar2/data_influence.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <xtensor/xindex_view.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "examples/cifar2/data.hpp"
#include "examples/cifar2/probes.hpp"
#include "tensor/kernels.hpp"
#include "tensor/xtensor_view.hpp"

namespace pathgrad::cifar2 {

namespace K = kernel;

std::vector<Influencers> strongest_influencers(const examples::TrackerExports& exports,
                                               const explaind::ProbeSet& probes, const Tensor& train_labels,
                                               int64_t count) {
  if (!exports.has("sample_data"))
    throw std::runtime_error("data influence: the tracker's exports hold no sample level");
  const Tensor influence = exports.load("sample_data");  // [M_s, N]: rows 2i + c of sample-level image i
  const int64_t N = train_labels.numel(), images = influence.size(0) / 2;
  if (influence.size(1) != N || images > probes.x.size(0))
    throw std::runtime_error(fmt::format("data influence: sample_data is {}, expected [2 x probe images, {}]",
                                         shape_str(influence.shape()), N));
  const ClassRows rows = class_rows(probes);
  const Tensor labels64 = train_labels.to(DType::Int64).contiguous();
  const auto labels = as_xtensor<const int64_t>(labels64);  // [N]: 0 cat, 1 dog
  std::vector<Influencers> out;
  for (int64_t i = 0; i < images; ++i) {
    const Tensor row = K::squeeze(K::narrow(influence, 0, rows.true_class[i], 1), 0).contiguous();  // [N]
    const double* v = row.data<double>();
    std::vector<int64_t> order(static_cast<size_t>(N));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
    Influencers inf;
    inf.probe = probes.ids[i];
    inf.label = static_cast<int64_t>(probes.y.at({i}));
    const int64_t k = std::min(count, N);
    for (int64_t r = 0; r < k; ++r) {
      inf.proponents.push_back(order[r]);
      inf.proponent_influence.push_back(v[order[r]]);
      inf.opponents.push_back(order[N - 1 - r]);
      inf.opponent_influence.push_back(v[order[N - 1 - r]]);
    }
    const auto influence_of = as_xtensor<const double>(row);  // [N]
    for (int64_t c = 0; c < 2; ++c) inf.class_total[c] = xt::sum(xt::filter(influence_of, xt::equal(labels, c)))();
    out.push_back(std::move(inf));
  }
  return out;
}

Tensor displayable(const Tensor& images, int64_t i) {
  const nn::data::ChannelStats stats = cifar10_stats();
  const Tensor img = K::squeeze(K::narrow(images, 0, i, 1), 0).to(DType::Float64).contiguous();  // [3, H, W]
  const std::vector<std::size_t> per_channel = {3, 1, 1};
  return from_xtensor(xt::cast<float>(as_xtensor<const double>(img) * xt::adapt(stats.std, per_channel) +
                                      xt::adapt(stats.mean, per_channel)));
}

}  // namespace pathgrad::cifar2
