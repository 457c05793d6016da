// Numerical gradient checking by central differences in float64.
#include "autograd/gradcheck.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "autograd/engine.hpp"
#include "autograd/ops.hpp"
#include "tensor/random.hpp"

namespace pathgrad {

std::vector<Tensor> numerical_grad(const TensorFunction& fn, const std::vector<Tensor>& inputs, const Tensor& w,
                                   double eps) {
  NoGradGuard no_grad;
  auto objective = [&] { return kernel::sum(kernel::mul(fn(inputs), w)).item(); };
  std::vector<Tensor> grads;
  for (const Tensor& x : inputs) {
    if (!x.requires_grad()) {
      grads.emplace_back();
      continue;
    }
    if (x.dtype() != DType::Float64 || !x.is_contiguous())
      throw std::invalid_argument("numerical_grad: inputs must be contiguous float64");
    Tensor g = Tensor::zeros(x.shape(), DType::Float64);
    double* p = x.data<double>();
    double* gp = g.data<double>();
    for (int64_t j = 0; j < x.numel(); ++j) {
      const double saved = p[j];
      p[j] = saved + eps;
      const double up = objective();
      p[j] = saved - eps;
      const double down = objective();
      p[j] = saved;
      gp[j] = (up - down) / (2 * eps);
    }
    grads.push_back(g);
  }
  return grads;
}

GradcheckResult gradcheck(const TensorFunction& fn, const std::vector<Tensor>& inputs, double eps, double atol,
                          double rtol, uint64_t seed) {
  GradcheckResult result;
  std::vector<Tensor> checked;
  for (const Tensor& x : inputs)
    if (x.requires_grad()) checked.push_back(x);
  if (checked.empty()) throw std::invalid_argument("gradcheck: no input requires grad");
  Tensor out = fn(inputs);
  Generator gen(seed);
  Tensor w = rand_uniform(out.shape(), -1.0, 1.0, gen, out.dtype());
  std::vector<Tensor> analytic = grad({out}, checked, {w});
  std::vector<Tensor> numeric = numerical_grad(fn, inputs, w, eps);
  result.ok = true;
  size_t k = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    const std::vector<double> a = analytic[k++].to_vector(), n = numeric[i].to_vector();
    for (size_t j = 0; j < a.size(); ++j) {
      const double err = std::abs(a[j] - n[j]);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (result.ok && !(err <= atol + rtol * std::abs(n[j]))) {
        result.ok = false;
        result.message = fmt::format("input {} (shape {}), element {}: analytic {:.12g}, numerical {:.12g}", i,
                                     shape_str(inputs[i].shape()), j, a[j], n[j]);
      }
    }
  }
  return result;
}

}  // namespace pathgrad
