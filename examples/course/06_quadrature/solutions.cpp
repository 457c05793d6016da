// Lesson 6, quadrature and kinks: reference solutions of exercises.hpp.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "examples/course/06_quadrature/exercises.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::course {

namespace K = pathgrad::kernel;

Tensor integrate_pieces(const PathDerivative& g, const std::vector<double>& edges,
                        const explaind::QuadratureRule& rule) {
  Tensor total;  // [M]
  for (size_t k = 0; k + 1 < edges.size(); ++k) {
    const explaind::QuadratureRule piece = rule.on(edges[k], edges[k + 1]);
    for (size_t q = 0; q < piece.nodes.size(); ++q) {
      const Tensor term = K::mul_scalar(g(piece.nodes[q]), piece.weights[q]);
      if (total.defined())
        K::add_(total, term);
      else
        total = term;
    }
  }
  return total;
}

std::vector<double> linear_crossings(const Tensor& z0, const Tensor& z1) {
  const std::vector<double> a = z0.to_vector(), b = z1.to_vector();
  std::vector<double> t;
  for (size_t u = 0; u < a.size(); ++u)
    if (a[u] * b[u] < 0) t.push_back(a[u] / (a[u] - b[u]));  // a + t(b − a) = 0
  std::sort(t.begin(), t.end());
  return t;
}

std::vector<double> split_edges(const std::vector<double>& crossings, int subdivisions) {
  std::vector<double> coarse{0.0};
  for (double c : crossings)
    if (c > coarse.back()) coarse.push_back(c);
  if (coarse.back() < 1.0) coarse.push_back(1.0);
  std::vector<double> edges{0.0};
  for (size_t k = 0; k + 1 < coarse.size(); ++k)
    for (int j = 1; j <= subdivisions; ++j)
      edges.push_back(j == subdivisions ? coarse[k + 1] : coarse[k] + (coarse[k + 1] - coarse[k]) * j / subdivisions);
  return edges;
}

double observed_order(const std::vector<double>& evaluations, const std::vector<double>& errors) {
  if (evaluations.size() != errors.size() || evaluations.size() < 2)
    throw std::invalid_argument("observed_order: needs at least two (evaluations, error) pairs");
  const double n = static_cast<double>(errors.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t j = 0; j < errors.size(); ++j) {
    if (!(evaluations[j] > 0) || !(errors[j] > 0))
      throw std::invalid_argument("observed_order: evaluations and errors must be positive");
    const double x = std::log(evaluations[j]), y = std::log(errors[j]);
    sx += x, sy += y, sxx += x * x, sxy += x * y;
  }
  return -(n * sxy - sx * sy) / (n * sxx - sx * sx);
}

}  // namespace pathgrad::course
