// nn::Dropout.
#include "nn/dropout.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "autograd/ops.hpp"
#include "nn/init.hpp"

namespace pathgrad::nn {

Dropout::Dropout(const DropoutOptions& options) : options_(options) {
  if (!(options.p() >= 0.0 && options.p() <= 1.0))
    throw std::invalid_argument(fmt::format("Dropout: p must be in [0, 1], got {}", options.p()));
}

Tensor Dropout::forward(const Tensor& x) {
  const double p = options_.p();
  if (!is_training() || p == 0.0) return x;
  if (!x.is_floating_point()) throw_dtype_error("Dropout", x.dtype(), "float32 or float64");
  Tensor u = rand_uniform(x.shape(), 0.0, 1.0, generator_or_default(options_.generator()), x.dtype());
  const double scale = p == 1.0 ? 0.0 : 1.0 / (1.0 - p);
  Tensor mask = kernel::mul_scalar(kernel::ge(u, Tensor::full({}, p, x.dtype())), scale);  // same shape as x
  return x * mask;
}

std::string Dropout::extra_repr() const { return fmt::format("p={}", options_.p()); }

}  // namespace pathgrad::nn
