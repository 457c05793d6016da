// clip_grad_norm_: the total gradient norm and PyTorch's clipping factor.
#include "optim/clip.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace pathgrad::optim {

double clip_grad_norm_(Optimizer& optimizer, double max_norm) {
  if (!std::isfinite(max_norm) || max_norm <= 0)
    throw std::invalid_argument(fmt::format("clip_grad_norm_: max_norm must be finite and > 0, got {}", max_norm));
  double sum_sq = 0.0;
  for (const auto& [name, p] : optimizer.named_parameters()) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const Tensor c = g.contiguous();
    dispatch_float(c.dtype(), "clip_grad_norm_", [&](auto tag) {
      using T = decltype(tag);
      const T* x = c.data<T>();
      for (int64_t i = 0, n = c.numel(); i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
    });
  }
  const double norm = std::sqrt(sum_sq);
  if (!std::isfinite(norm))
    throw std::invalid_argument(
        fmt::format("clip_grad_norm_: the total gradient norm of {} is {}; cannot clip non-finite gradients",
                    optimizer.name(), norm));
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0) optimizer.scale_grads(factor);
  return norm;
}

}  // namespace pathgrad::optim
