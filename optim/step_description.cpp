// Coefficient::materialize: a step description's coefficient as a full tensor.
#include "optim/step_description.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "tensor/kernels.hpp"

namespace pathgrad::optim {

Tensor Coefficient::materialize(const Shape& shape, DType dtype) const {
  if (!elementwise.defined()) return Tensor::full(shape, scale, dtype);
  if (elementwise.shape() != shape)
    throw std::invalid_argument(fmt::format("Coefficient::materialize: elementwise factor has shape {}, expected {}",
                                            shape_str(elementwise.shape()), shape_str(shape)));
  return kernel::mul_scalar(elementwise.to(dtype), scale);
}

}  // namespace pathgrad::optim
