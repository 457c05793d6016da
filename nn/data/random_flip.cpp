// RandomHorizontalFlip: per-example flip draws and the reversal of the last dim.
#include "nn/data/random_flip.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "nn/data/generator_json.hpp"

namespace pathgrad::nn::data {

RandomHorizontalFlip::RandomHorizontalFlip(const Dataset& base, uint64_t seed, double probability)
    : base_(base), probability_(probability), generator_(seed) {
  if (!(probability >= 0.0 && probability <= 1.0))
    throw std::invalid_argument(
        fmt::format("RandomHorizontalFlip: expected a probability in [0, 1], got {}", probability));
}

Batch RandomHorizontalFlip::get(const Tensor& ids) const {
  Batch batch = base_.get(ids);
  const Tensor x = batch.x.contiguous();
  if (x.dim() < 2)
    throw std::invalid_argument("RandomHorizontalFlip: expected x [B, ..., W], got " + shape_str(x.shape()));
  const int64_t b = x.size(0), w = x.size(-1), rows_per_example = x.numel() == 0 ? 0 : x.numel() / (b * w);
  Tensor out = Tensor::zeros(x.shape(), x.dtype());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = x.data<T>();
    T* dst = out.data<T>();
    for (int64_t i = 0; i < b; ++i) {
      const bool flip = generator_.uniform() < probability_;
      for (int64_t r = i * rows_per_example; r < (i + 1) * rows_per_example; ++r) {
        if (flip)
          std::reverse_copy(src + r * w, src + (r + 1) * w, dst + r * w);
        else
          std::copy(src + r * w, src + (r + 1) * w, dst + r * w);
      }
    }
  });
  batch.x = out;
  return batch;
}

nlohmann::json RandomHorizontalFlip::random_state() const { return generator_state_to_json(generator_.state()); }

void RandomHorizontalFlip::set_random_state(const nlohmann::json& state) const {
  generator_.set_state(generator_state_from_json(state));
}

}  // namespace pathgrad::nn::data
