// Lesson 6, quadrature and kinks: exercises. Each function's task is in the comment above it; the
// reference solutions are in solutions.cpp, checked by tests/course/test_06_quadrature.cpp.
#pragma once

#include <functional>
#include <vector>

#include "explaind/quadrature.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::course {

// The derivative of M probe scalars along one step's segment: t ↦ d/dt F_m(θ_s + tΔθ_s)
// = ∇F_m(θ_s + tΔθ_s)·Δθ_s, float64 [M]. Its integral over [0, 1] is φ_s·Δθ_s.
using PathDerivative = std::function<Tensor(double t)>;

// Exercise 1 — a rule applied piece by piece.
// `edges` are 0 = e_0 < e_1 < ... < e_n = 1. Return Σ_k ∫_{e_k}^{e_{k+1}} g(t) dt with `rule` on
// every piece (rule.on(a, b) gives the rule's nodes and weights on [a, b]), float64 [M].
Tensor integrate_pieces(const PathDerivative& g, const std::vector<double>& edges,
                        const explaind::QuadratureRule& rule);

// Exercise 2 — where the ReLUs switch.
// z0 and z1 are pre-activations of ReLU units (any shape, float64) at both ends of a segment along
// which they move linearly, z(t) = z0 + t·(z1 − z0) — true for the first layer, whose weights and
// biases move linearly with t. Return the points t ∈ (0, 1) where a unit changes sign
// (z0·z1 < 0), increasing (one per such unit; equal values may repeat).
std::vector<double> linear_crossings(const Tensor& z0, const Tensor& z1);

// Exercise 3 — the pieces of kink splitting.
// Return the edges 0, c_1, ..., c_k, 1 for the (increasing) crossings c, with every one of the
// k + 1 pieces then cut into `subdivisions` equal parts: (k + 1)·subdivisions pieces in all.
// Crossings that coincide give a piece of width 0: drop repeated edges.
std::vector<double> split_edges(const std::vector<double>& crossings, int subdivisions);

// Exercise 4 — the observed order of convergence.
// Given costs n_j > 0 (gradient evaluations) and errors e_j > 0, fit log e = c − p·log n by least
// squares and return p: an error ~ n^(−p). Throws std::invalid_argument for fewer than two points
// or a non-positive value.
double observed_order(const std::vector<double>& evaluations, const std::vector<double>& errors);

}  // namespace pathgrad::course
