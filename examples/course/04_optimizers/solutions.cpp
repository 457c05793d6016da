// Lesson 4 reference solutions (exercises.hpp). Raw kernels only: no graph is recorded.
#include <cmath>

#include "examples/course/04_optimizers/exercises.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::course {
namespace K = kernel;

Tensor sgd_delta(const Tensor& theta, const Tensor& grad, double lr, double weight_decay) {
  const Tensor d = K::add(grad, K::mul_scalar(theta, weight_decay));  // g + λθ
  return K::mul_scalar(d, -lr);
}

Tensor momentum_delta(MomentumState& state, const Tensor& theta, const Tensor& grad, double lr, double momentum,
                      double weight_decay) {
  const Tensor d = K::add(grad, K::mul_scalar(theta, weight_decay));  // g + λθ
  state.buffer = state.buffer.defined() ? K::add(K::mul_scalar(state.buffer, momentum), d) : d.clone();
  return K::mul_scalar(state.buffer, -lr);
}

Tensor adamw_delta(AdamState& state, const Tensor& theta, const Tensor& grad, const AdamHyper& h) {
  if (state.step == 0) {
    state.m = Tensor::zeros(theta.shape(), theta.dtype());
    state.v = Tensor::zeros(theta.shape(), theta.dtype());
  }
  const double k = static_cast<double>(++state.step);
  state.m = K::add(K::mul_scalar(state.m, h.beta1), K::mul_scalar(grad, 1 - h.beta1));
  state.v = K::add(K::mul_scalar(state.v, h.beta2), K::mul_scalar(K::mul(grad, grad), 1 - h.beta2));
  const Tensor denom = K::add_scalar(K::mul_scalar(K::sqrt(state.v), 1 / std::sqrt(1 - std::pow(h.beta2, k))), h.eps);
  const Tensor data = K::mul_scalar(K::div(state.m, denom), -h.lr / (1 - std::pow(h.beta1, k)));
  const Tensor decay = K::mul_scalar(theta, -h.lr * h.weight_decay);
  return K::add(data, decay);
}

Tensor delta_from_description(const optim::ParamStep& step, Tensor& data_buffer, const Tensor& grad) {
  const Shape& shape = grad.shape();
  const DType dtype = grad.dtype();
  const Tensor b_old = data_buffer.defined() ? data_buffer : Tensor::zeros(shape, dtype);
  data_buffer = K::add(K::mul_scalar(b_old, step.buffer_decay), K::mul_scalar(grad, step.grad_scale));
  Tensor delta = K::add(K::mul(step.buffer_coef.materialize(shape, dtype), data_buffer),
                        K::mul(step.direct_coef.materialize(shape, dtype), grad));
  return step.non_data.defined() ? K::add(delta, step.non_data) : delta;
}

}  // namespace pathgrad::course
