// Proponents and opponents from the sample-level exports.
#include "examples/cifar2/data_influence.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "examples/cifar2/data.hpp"
#include "examples/cifar2/probes.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::cifar2 {

namespace K = kernel;

std::vector<Influencers> strongest_influencers(const examples::TrackerExports& exports,
                                               const explaind::ProbeSet& probes, const Tensor& train_labels,
                                               int64_t count) {
  if (!exports.has("sample_data")) throw std::runtime_error("data influence: the tracker's exports hold no sample level");
  const Tensor influence = exports.load("sample_data");  // [M_s, N]: rows 2i + c of sample-level image i
  const int64_t N = train_labels.numel(), images = influence.size(0) / 2;
  if (influence.size(1) != N || images > probes.x.size(0))
    throw std::runtime_error(fmt::format("data influence: sample_data is {}, expected [2 x probe images, {}]",
                                         shape_str(influence.shape()), N));
  const ClassRows rows = class_rows(probes);
  const std::vector<double> labels = train_labels.to_vector();
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
    for (int64_t n = 0; n < N; ++n) inf.class_total[labels[n] > 0.5 ? 1 : 0] += v[n];
    out.push_back(std::move(inf));
  }
  return out;
}

Tensor displayable(const Tensor& images, int64_t i) {
  const nn::data::ChannelStats stats = cifar10_stats();
  Tensor img = K::squeeze(K::narrow(images, 0, i, 1), 0).to(DType::Float32).clone();  // [3, H, W], own copy
  const int64_t plane = img.size(1) * img.size(2);
  float* p = img.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t j = 0; j < plane; ++j)
      p[c * plane + j] = static_cast<float>(p[c * plane + j] * stats.std[c] + stats.mean[c]);
  return img;
}

}  // namespace pathgrad::cifar2
