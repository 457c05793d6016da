// The learning-rate schedules of schedule.hpp.
#include "optim/schedule.hpp"

#include <fmt/format.h>

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <utility>

namespace pathgrad::optim {

namespace {

void require(bool ok, const char* schedule, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(schedule) + ": " + what);
}

void check_step(int64_t s, const char* schedule) {
  require(s >= 0, schedule, fmt::format("step must be >= 0, got {}", s));
}

// Warm-up from 0 to 1 over `warmup` steps, then floor + (1 − floor)·shape(p) for p from 0 at
// s = warmup to 1 at s = total, then floor. shape(0) = 1, shape(1) = 0.
template <class Shape>
Optimizer::Schedule warmup_then(const char* name, int64_t warmup, int64_t total, double floor, Shape shape) {
  require(warmup >= 0, name, fmt::format("warmup must be >= 0, got {}", warmup));
  require(total > warmup, name, fmt::format("total ({}) must exceed warmup ({})", total, warmup));
  require(floor >= 0 && floor <= 1, name, fmt::format("floor must be in [0, 1], got {}", floor));
  return [=](int64_t s) {
    check_step(s, name);
    if (s < warmup) return static_cast<double>(s) / static_cast<double>(warmup);
    if (s >= total) return floor;
    const double p = static_cast<double>(s - warmup) / static_cast<double>(total - warmup);
    return floor + (1.0 - floor) * shape(p);
  };
}

}  // namespace

Optimizer::Schedule constant_lr(double value) {
  require(std::isfinite(value) && value >= 0, "constant_lr",
          fmt::format("value must be finite and >= 0, got {}", value));
  return [value](int64_t s) {
    check_step(s, "constant_lr");
    return value;
  };
}

Optimizer::Schedule step_decay_lr(int64_t every, double gamma) {
  require(every > 0, "step_decay_lr", fmt::format("every must be > 0, got {}", every));
  require(std::isfinite(gamma) && gamma >= 0, "step_decay_lr",
          fmt::format("gamma must be finite and >= 0, got {}", gamma));
  return [every, gamma](int64_t s) {
    check_step(s, "step_decay_lr");
    return std::pow(gamma, static_cast<double>(s / every));
  };
}

Optimizer::Schedule warmup_linear_decay_lr(int64_t warmup, int64_t total, double floor) {
  return warmup_then("warmup_linear_decay_lr", warmup, total, floor, [](double p) { return 1.0 - p; });
}

Optimizer::Schedule warmup_cosine_decay_lr(int64_t warmup, int64_t total, double floor) {
  return warmup_then("warmup_cosine_decay_lr", warmup, total, floor,
                     [](double p) { return 0.5 * (1.0 + std::cos(std::numbers::pi * p)); });
}

Optimizer::Schedule piecewise_linear_lr(std::vector<double> steps, std::vector<double> factors) {
  const char* name = "piecewise_linear_lr";
  require(steps.size() == factors.size(), name, fmt::format("{} steps but {} factors", steps.size(), factors.size()));
  require(steps.size() >= 2, name, fmt::format("needs at least 2 points, got {}", steps.size()));
  for (size_t i = 0; i < steps.size(); ++i) {
    require(std::isfinite(steps[i]) && (i == 0 || steps[i] > steps[i - 1]), name,
            fmt::format("steps must be finite and strictly increasing; step {} is {}", i, steps[i]));
    require(std::isfinite(factors[i]) && factors[i] >= 0, name,
            fmt::format("factors must be finite and >= 0; factor {} is {}", i, factors[i]));
  }
  return [xs = std::move(steps), ys = std::move(factors)](int64_t s) {
    check_step(s, "piecewise_linear_lr");
    const double x = static_cast<double>(s);
    if (x < xs.front()) return ys.front();
    if (x >= xs.back()) return ys.back();
    size_t j = 0;
    while (xs[j + 1] <= x) ++j;  // xs[j] <= x < xs[j + 1]
    if (xs[j] == x) return ys[j];
    const double slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j]);
    return slope * (x - xs[j]) + ys[j];
  };
}

Optimizer::Schedule triangle_lr(int64_t iters_per_epoch, int64_t epochs, int64_t peak_epoch) {
  require(iters_per_epoch > 0, "triangle_lr", fmt::format("iters_per_epoch must be > 0, got {}", iters_per_epoch));
  require(peak_epoch > 0 && peak_epoch < epochs, "triangle_lr",
          fmt::format("need 0 < peak_epoch < epochs, got peak_epoch {} and epochs {}", peak_epoch, epochs));
  const double ipe = static_cast<double>(iters_per_epoch);
  return piecewise_linear_lr({0.0, static_cast<double>(peak_epoch) * ipe, static_cast<double>(epochs) * ipe},
                             {0.0, 1.0, 0.0});
}

}  // namespace pathgrad::optim
