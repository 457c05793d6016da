// Quadrature rules on [0, 1] for the path integral φ_s = ∫₀¹ ∇F(θ_s + tΔθ_s) dt
// (path-kernel.md §4): midpoint (the paper's), trapezoid, Simpson, Gauss–Legendre, Gauss–Lobatto.
#pragma once

#include <string>
#include <vector>

namespace pathgrad::explaind {

struct QuadratureRule {
  std::string name;             // "gauss_legendre(4)", ...
  std::vector<double> nodes;    // in [0, 1], increasing
  std::vector<double> weights;  // sum to 1
  // Polynomial degree integrated exactly (midpoint(n): 1, trapezoid: 1, Simpson: 3,
  // Gauss–Legendre(n): 2n−1, Gauss–Lobatto(n): 2n−3).
  int exact_degree = 0;
  // True when the nodes include both ends of the interval.
  bool has_endpoints() const;

  // The same rule applied to the sub-interval [a, b] of [0, 1] (weights scaled by b − a).
  QuadratureRule on(double a, double b) const;
};

QuadratureRule midpoint(int n);  // n equal cells, one node at each cell's centre
QuadratureRule trapezoid();
QuadratureRule simpson();
QuadratureRule gauss_legendre(int n);  // n >= 1
QuadratureRule gauss_lobatto(int n);   // n >= 2; includes 0 and 1

// Parses "midpoint:100", "trapezoid", "simpson", "gauss_legendre:4", "gauss_lobatto:5";
// throws std::invalid_argument listing the accepted forms.
QuadratureRule parse_rule(const std::string& spec);

}  // namespace pathgrad::explaind
