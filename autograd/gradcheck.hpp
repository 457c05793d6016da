// Numerical gradient checking: analytic gradients from the engine against central differences.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad {

using TensorFunction = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckResult {
  bool ok = false;
  double max_abs_error = 0;  // largest |analytic - numerical| over all checked elements
  std::string message;       // on failure: which input, which element, both values
};

// Central differences of F = sum(w * fn(inputs)) with respect to every input that requires grad:
// dF/dx_j ~ (F(x + eps e_j) - F(x - eps e_j)) / (2 eps). `w` must have fn's output shape.
std::vector<Tensor> numerical_grad(const TensorFunction& fn, const std::vector<Tensor>& inputs, const Tensor& w,
                                   double eps = 1e-6);

// Compares the engine's gradients of F = sum(w * fn(inputs)), w a fixed pseudo-random weighting
// (seed `seed`), with numerical_grad. Inputs must be float64; those that require grad are checked.
// Passes when |analytic - numerical| <= atol + rtol * |numerical| for every element.
GradcheckResult gradcheck(const TensorFunction& fn, const std::vector<Tensor>& inputs, double eps = 1e-6,
                          double atol = 1e-7, double rtol = 1e-6, uint64_t seed = 7);

}  // namespace pathgrad
