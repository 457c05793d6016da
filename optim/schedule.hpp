// Learning-rate schedules: pure functions of the step s (0, 1, ...) returning the factor that
// multiplies each group's base lr (Optimizer::set_schedule). Constructors check their arguments
// and throw std::invalid_argument naming the bad one; the returned functions throw on s < 0.
#pragma once

#include <cstdint>
#include <vector>

#include "optim/optimizer.hpp"

namespace pathgrad::optim {

// factor(s) = value (>= 0).
Optimizer::Schedule constant_lr(double value = 1.0);

// factor(s) = gamma^floor(s / every): decay by gamma (>= 0) every `every` (> 0) steps.
Optimizer::Schedule step_decay_lr(int64_t every, double gamma);

// Linear warm-up, then decay to a floor: factor(s) = s / warmup for s < warmup (0 at s = 0, as in
// Hugging Face's schedules), then from 1 at s = warmup down to `floor` at s = total, and `floor`
// afterwards. Requires 0 <= warmup < total and floor in [0, 1].
// Linear decay: 1 − (1 − floor)·p, p = (s − warmup) / (total − warmup).
Optimizer::Schedule warmup_linear_decay_lr(int64_t warmup, int64_t total, double floor = 0.0);
// Cosine decay: floor + (1 − floor)·(1 + cos(π·p)) / 2.
Optimizer::Schedule warmup_cosine_decay_lr(int64_t warmup, int64_t total, double floor = 0.0);

// Piecewise-linear interpolation through (steps[i], factors[i]), with NumPy's np.interp rule and
// arithmetic (slope·(s − x_j) + y_j, constant beyond both ends). Requires at least two points,
// strictly increasing steps and finite factors >= 0.
Optimizer::Schedule piecewise_linear_lr(std::vector<double> steps, std::vector<double> factors);

// The CIFAR triangle, evaluated per iteration: 0 at iteration 0, 1 at the start of epoch
// `peak_epoch`, 0 at the end of the last epoch; np.interp([it], [0, peak_epoch·iters_per_epoch,
// epochs·iters_per_epoch], [0, 1, 0]). Requires iters_per_epoch > 0 and 0 < peak_epoch < epochs.
Optimizer::Schedule triangle_lr(int64_t iters_per_epoch, int64_t epochs, int64_t peak_epoch = 5);

}  // namespace pathgrad::optim
