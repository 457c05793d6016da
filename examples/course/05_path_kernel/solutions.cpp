// Lesson 5, the path kernel: reference solutions of exercises.hpp.
#include "examples/course/05_path_kernel/exercises.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::course {

namespace K = pathgrad::kernel;

Tensor path_integrated_gradient(const GradientAt& gradient, const Tensor& theta0, const Tensor& theta1,
                                const explaind::QuadratureRule& rule) {
  const Tensor delta = K::sub(theta1, theta0);                   // [P]
  Tensor phi = Tensor::zeros({theta0.numel()}, DType::Float64);  // [P]
  for (size_t q = 0; q < rule.nodes.size(); ++q) {
    const Tensor point = K::add(theta0, K::mul_scalar(delta, rule.nodes[q]));  // θ0 + t_q Δθ
    K::add_(phi, gradient(point), rule.weights[q]);
  }
  return phi;
}

std::vector<double> replica_along(const ValueAt& value, const GradientAt& gradient,
                                  const std::vector<Tensor>& trajectory, const explaind::QuadratureRule& rule) {
  std::vector<double> replica{value(trajectory.front())};
  for (size_t s = 0; s + 1 < trajectory.size(); ++s) {
    const Tensor phi = path_integrated_gradient(gradient, trajectory[s], trajectory[s + 1], rule);
    const Tensor delta = K::sub(trajectory[s + 1], trajectory[s]);
    replica.push_back(replica.back() + K::sum(K::mul(phi, delta)).item());
  }
  return replica;
}

Tensor sgd_kernel_terms(const Tensor& phi, const Tensor& sample_gradients, double lr_times_weight) {
  // [B, P] · [P, 1] -> [B, 1]: the path kernel K_s(x, x_i) = φ_s·∇ℓ_i(θ_s) of every sample.
  const Tensor kernel_values = K::matmul(sample_gradients, K::unsqueeze(phi, 1));
  return K::mul_scalar(K::reshape(kernel_values, {-1}), -lr_times_weight);
}

}  // namespace pathgrad::course
