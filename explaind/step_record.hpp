// One training step as the path-kernel tracker sees it: what PathKernel::step and the sample
// level (SampleShard::step) are fed.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad::explaind {

// One training step as the tracker saw it.
struct StepRecord {
  int64_t step = 0;
  Tensor theta0, theta1;  // float64 [P]
  Tensor non_data;        // float64 [P]: R_s
  // Sample level only: the optimizer's linear form (path-kernel.md §2) per parameter tensor ...
  std::vector<double> buffer_decay, grad_scale;
  Tensor buffer_coef, direct_coef;  // float64 [P]
  // ... and the batch: per-sample losses are taken at θ_s with weights a_i.
  Tensor batch_x, batch_y, batch_ids;  // ids int64 [B]
  Tensor batch_weights;                // float64 [B]: a_{s,i}
};

}  // namespace pathgrad::explaind
