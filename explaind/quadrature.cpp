// Quadrature nodes and weights on [0, 1]; Gauss rules by Newton iteration on Legendre polynomials.
#include "explaind/quadrature.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace pathgrad::explaind {
namespace {

// P_n(x) and P_n'(x) by the three-term recurrence.
std::pair<double, double> legendre(int n, double x) {
  double p0 = 1.0, p1 = x;
  if (n == 0) return {1.0, 0.0};
  for (int k = 2; k <= n; ++k) {
    const double pk = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
    p0 = p1;
    p1 = pk;
  }
  const double dp = n * (x * p1 - p0) / (x * x - 1.0);
  return {p1, dp};
}

QuadratureRule from_symmetric(std::string name, std::vector<double> x, std::vector<double> w, int degree) {
  // x in [-1, 1] increasing, w summing to 2 -> [0, 1], summing to 1.
  QuadratureRule r{std::move(name), {}, {}, degree};
  for (size_t i = 0; i < x.size(); ++i) {
    r.nodes.push_back(0.5 * (x[i] + 1.0));
    r.weights.push_back(0.5 * w[i]);
  }
  return r;
}

}  // namespace

bool QuadratureRule::has_endpoints() const { return !nodes.empty() && nodes.front() == 0.0 && nodes.back() == 1.0; }

QuadratureRule QuadratureRule::on(double a, double b) const {
  QuadratureRule r = *this;
  for (size_t i = 0; i < nodes.size(); ++i) {
    r.nodes[i] = a + (b - a) * nodes[i];
    r.weights[i] = (b - a) * weights[i];
  }
  return r;
}

QuadratureRule midpoint(int n) {
  if (n < 1) throw std::invalid_argument(fmt::format("midpoint: needs n >= 1 points, got {}", n));
  QuadratureRule r{fmt::format("midpoint({})", n), {}, {}, 1};
  for (int i = 0; i < n; ++i) {
    r.nodes.push_back((i + 0.5) / n);
    r.weights.push_back(1.0 / n);
  }
  return r;
}

QuadratureRule trapezoid() { return {"trapezoid", {0.0, 1.0}, {0.5, 0.5}, 1}; }

QuadratureRule simpson() { return {"simpson", {0.0, 0.5, 1.0}, {1.0 / 6, 4.0 / 6, 1.0 / 6}, 3}; }

QuadratureRule gauss_legendre(int n) {
  if (n < 1 || n > 128) throw std::invalid_argument(fmt::format("gauss_legendre: n must be in [1, 128], got {}", n));
  std::vector<double> x(n), w(n);
  for (int i = 0; i < n; ++i) {
    double z = std::cos(M_PI * (i + 0.75) / (n + 0.5));  // Chebyshev-like initial guess
    for (int it = 0; it < 100; ++it) {
      const auto [p, dp] = legendre(n, z);
      const double dz = p / dp;
      z -= dz;
      if (std::abs(dz) < 1e-16) break;
    }
    const auto [p, dp] = legendre(n, z);
    (void)p;
    x[n - 1 - i] = z;
    w[n - 1 - i] = 2.0 / ((1.0 - z * z) * dp * dp);
  }
  return from_symmetric(fmt::format("gauss_legendre({})", n), x, w, 2 * n - 1);
}

QuadratureRule gauss_lobatto(int n) {
  if (n < 2 || n > 128) throw std::invalid_argument(fmt::format("gauss_lobatto: n must be in [2, 128], got {}", n));
  // Interior nodes: roots of P'_{n-1}; weights 2 / (n (n-1) P_{n-1}(x)^2).
  const int m = n - 1;
  std::vector<double> x(n), w(n);
  x[0] = -1.0;
  x[n - 1] = 1.0;
  for (int i = 1; i < n - 1; ++i) {
    double z = -std::cos(M_PI * i / m);  // Chebyshev–Gauss–Lobatto initial guess
    for (int it = 0; it < 100; ++it) {
      // Newton on P'_m: P''_m = (2x P'_m - m(m+1) P_m) / (1 - x^2)
      const auto [p, dp] = legendre(m, z);
      const double d2p = (2.0 * z * dp - m * (m + 1.0) * p) / (1.0 - z * z);
      const double dz = dp / d2p;
      z -= dz;
      if (std::abs(dz) < 1e-16) break;
    }
    x[i] = z;
  }
  for (int i = 0; i < n; ++i) {
    const double p = std::abs(x[i]) == 1.0 ? (x[i] > 0 ? 1.0 : (m % 2 ? -1.0 : 1.0)) : legendre(m, x[i]).first;
    w[i] = 2.0 / (n * (n - 1.0) * p * p);
  }
  QuadratureRule r = from_symmetric(fmt::format("gauss_lobatto({})", n), x, w, 2 * n - 3);
  r.nodes.front() = 0.0;
  r.nodes.back() = 1.0;
  return r;
}

QuadratureRule parse_rule(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  int n = 0;
  if (colon != std::string::npos) {
    try {
      size_t used = 0;
      n = std::stoi(spec.substr(colon + 1), &used);
      if (used != spec.size() - colon - 1) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      throw std::invalid_argument(fmt::format("quadrature rule '{}': the number of points is not an integer", spec));
    }
  }
  if (name == "midpoint" && n) return midpoint(n);
  if (name == "trapezoid" && !n) return trapezoid();
  if (name == "simpson" && !n) return simpson();
  if (name == "gauss_legendre" && n) return gauss_legendre(n);
  if (name == "gauss_lobatto" && n) return gauss_lobatto(n);
  throw std::invalid_argument(fmt::format(
      "unknown quadrature rule '{}'; use midpoint:N, trapezoid, simpson, gauss_legendre:N or gauss_lobatto:N", spec));
}

}  // namespace pathgrad::explaind
