// Per-channel statistics and normalisation over [N, C, ...] tensors.
#include "nn/data/normalize.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <stdexcept>

namespace pathgrad::nn::data {
namespace {

// x viewed as [N, C, inner], contiguous.
struct ChannelLayout {
  int64_t n, c, inner;
};
ChannelLayout channel_layout(const Tensor& x, const char* op) {
  if (x.dim() < 2 || !x.is_floating_point())
    throw std::invalid_argument(fmt::format("{}: expected a float tensor [N, C, ...], got {} {}", op,
                                            dtype_name(x.dtype()), shape_str(x.shape())));
  return {x.size(0), x.size(1), x.size(0) * x.size(1) == 0 ? 0 : x.numel() / (x.size(0) * x.size(1))};
}

}  // namespace

ChannelStats channel_stats(const Tensor& x) {
  const ChannelLayout l = channel_layout(x, "channel_stats");
  if (x.numel() == 0) throw std::invalid_argument("channel_stats: empty tensor " + shape_str(x.shape()));
  const Tensor c = x.contiguous();
  ChannelStats stats{std::vector<double>(static_cast<size_t>(l.c)), std::vector<double>(static_cast<size_t>(l.c))};
  dispatch_float(x.dtype(), "channel_stats", [&](auto tag) {
    using T = decltype(tag);
    const T* p = c.data<T>();
    for (int64_t ch = 0; ch < l.c; ++ch) {
      double sum = 0, sum_sq = 0;
      for (int64_t i = 0; i < l.n; ++i) {
        const T* row = p + (i * l.c + ch) * l.inner;
        for (int64_t k = 0; k < l.inner; ++k) sum += row[k];
      }
      const double count = static_cast<double>(l.n * l.inner), mean = sum / count;
      for (int64_t i = 0; i < l.n; ++i) {  // two passes: no cancellation in the variance
        const T* row = p + (i * l.c + ch) * l.inner;
        for (int64_t k = 0; k < l.inner; ++k) sum_sq += (row[k] - mean) * (row[k] - mean);
      }
      stats.mean[static_cast<size_t>(ch)] = mean;
      stats.std[static_cast<size_t>(ch)] = std::sqrt(sum_sq / count);
    }
  });
  return stats;
}

void normalize_channels_(const Tensor& x, const ChannelStats& stats) {
  const ChannelLayout l = channel_layout(x, "normalize_channels_");
  if (!x.is_contiguous())
    throw std::invalid_argument("normalize_channels_: expected a contiguous tensor, got strides " +
                                shape_str(x.strides()));
  if (static_cast<int64_t>(stats.mean.size()) != l.c || static_cast<int64_t>(stats.std.size()) != l.c)
    throw std::invalid_argument(fmt::format("normalize_channels_: expected {} means and stds for {}, found {} and {}",
                                            l.c, shape_str(x.shape()), stats.mean.size(), stats.std.size()));
  for (double s : stats.std)
    if (!(s > 0))
      throw std::invalid_argument(fmt::format("normalize_channels_: expected positive stds, found {}", stats.std));
  dispatch_float(x.dtype(), "normalize_channels_", [&](auto tag) {
    using T = decltype(tag);
    T* p = x.data<T>();
    for (int64_t i = 0; i < l.n; ++i)
      for (int64_t ch = 0; ch < l.c; ++ch) {
        const double mean = stats.mean[static_cast<size_t>(ch)], inv_std = 1.0 / stats.std[static_cast<size_t>(ch)];
        T* row = p + (i * l.c + ch) * l.inner;
        for (int64_t k = 0; k < l.inner; ++k) row[k] = static_cast<T>((row[k] - mean) * inv_std);
      }
  });
}

}  // namespace pathgrad::nn::data
