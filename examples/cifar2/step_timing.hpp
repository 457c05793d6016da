// What a step of the run costs, measured before training starts: one plain training step of the
// float32 model, and one float64 probe gradient, from which the trackers' cost per step is
// estimated (before any refinement).
#pragma once

#include <cstdint>
#include <string>

#include "examples/cifar2/model.hpp"
#include "explaind/summary.hpp"
#include "optim/optimizer.hpp"

namespace pathgrad::cifar2 {

struct StepTiming {
  double training = 0;        // seconds: forward and backward of one batch (float32)
  double probe_gradient = 0;  // seconds per probe image: forward and backward in float64
};

// Measures both on the given inputs (the training step after one warm-up pass) (images [B, 3, 32, 32], labels [B];
// probe images [K, ...]). Nothing changes: every .grad is left undefined, the weights as they were. `probe_model` may
// be null (untracked: probe_gradient stays 0).
StepTiming measure_step_timing(ResNet9& model, optim::Optimizer& optimizer, const Tensor& images, const Tensor& labels,
                               ResNet9* probe_model, const Tensor& probe_images);

// Lines for the console: the measured training step, each tracker's estimated seconds per step
// (probe gradients at the quadrature nodes, per-sample gradients of the batch and the kernel
// GEMMs at the sample level, from the measured probe gradient; null: no such tracker) and the
// whole run's estimate for `steps` steps (of `total_steps`), with `importance_chunks` − 1 reruns
// of the whole training, each with an importance tracker like `importance`.
std::string describe(const StepTiming& timing, const explaind::Cost* main, const explaind::Cost* importance,
                     int64_t steps, int64_t total_steps, int64_t importance_chunks);

}  // namespace pathgrad::cifar2
