// Lesson 5, the path kernel: exercises. Each function's task is in the comment above it; the
// reference solutions are in solutions.cpp, checked by tests/course/test_05_path_kernel.cpp.
#pragma once

#include <functional>
#include <vector>

#include "explaind/quadrature.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::course {

// A probe scalar F as a function of the flat parameters θ (float64 [P]): its value and its gradient.
using ValueAt = std::function<double(const Tensor& theta)>;
using GradientAt = std::function<Tensor(const Tensor& theta)>;  // [P] -> ∇F(θ), float64 [P]

// Exercise 1 — the path-integrated gradient of one step.
// Return φ = ∫₀¹ ∇F(θ0 + t·(θ1 − θ0)) dt, approximated by the rule: Σ_q w_q ∇F(θ0 + t_q·(θ1 − θ0)),
// with the rule's nodes t_q ∈ [0, 1] and weights w_q (rule.nodes, rule.weights). float64 [P].
// Then φ·(θ1 − θ0) = F(θ1) − F(θ0) up to the rule's error: the fundamental theorem of calculus.
Tensor path_integrated_gradient(const GradientAt& gradient, const Tensor& theta0, const Tensor& theta1,
                                const explaind::QuadratureRule& rule);

// Exercise 2 — the replica along a trajectory θ_0, θ_1, ..., θ_S.
// Return the S + 1 values r_0 = F(θ_0), r_{s+1} = r_s + φ_s·(θ_{s+1} − θ_s), with φ_s from
// exercise 1 and `rule`. r_S is the kernel machine's F(θ_S); it equals the model's up to the
// rule's error.
std::vector<double> replica_along(const ValueAt& value, const GradientAt& gradient,
                                  const std::vector<Tensor>& trajectory, const explaind::QuadratureRule& rule);

// Exercise 3 — the kernel machine's terms of one plain-SGD step.
// Plain SGD moves θ by Δθ_s = −η Σ_{i∈B_s} a_i ∇ℓ_i(θ_s), so step s's change of F splits into one
// term per sample of the batch: φ_s·Δθ_s = Σ_i (−η a_i) φ_s·∇ℓ_i(θ_s). Given φ_s [P], the batch's
// per-sample loss gradients [B, P] (row i: ∇ℓ_i(θ_s)) and the factor η·a (the same for every
// sample of a Mean-reduced batch: a = 1/B), return the B terms, float64 [B].
Tensor sgd_kernel_terms(const Tensor& phi, const Tensor& sample_gradients, double lr_times_weight);

}  // namespace pathgrad::course
