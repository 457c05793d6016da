// Lesson 7, influence: exercises. Each function's task is in the comment above it; the reference
// solutions are in solutions.cpp, checked by tests/course/test_07_influence.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad::course {

// Exercise 1 — proponents and opponents.
// Return the indices of the k largest values of `influence` (largest first) when `largest`, else
// of the k smallest (smallest first). Ties: the lower index first. k may exceed the size (all).
std::vector<int64_t> top_k(const std::vector<double>& influence, int64_t k, bool largest);

// Exercise 2 — Spearman's rank correlation.
// Rank each vector (1 = smallest; tied values share the mean of their ranks), then return the
// Pearson correlation of the two rank vectors, in [−1, 1]. Throws std::invalid_argument when the
// sizes differ, there are fewer than two values, or a vector is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

// A training run that can be repeated without a sample: a ReLU TinyMlp (examples/course/common/
// flat_model.hpp, float64) trained with full-batch SGD on the summed loss Σ_{i kept} ℓ_i.
struct FullBatchProblem {
  Tensor x, y;  // inputs [N, ...] float64, labels int64 [N]
  int64_t in = 0, hidden = 0, classes = 0;
  uint64_t seed = 0;  // make_tiny_mlp's seed: the same initial weights every time
  double lr = 0;
  int steps = 0;
};

// Exercise 3 — retraining.
// Train the problem's model from its initial weights on the samples `keep` (indices into x, in
// this order), `steps` plain-SGD steps on the summed loss, each on all of them at once; return
// F = log p(probe_label | probe_x) of the trained model (probe_x: one input, [...]). With every
// index in order this is exactly the run the tracker watched in the program; leaving one out, the
// retrained F differs from it by the sample's leave-one-out effect.
double trained_value(const FullBatchProblem& problem, const std::vector<int64_t>& keep, const Tensor& probe_x,
                     int64_t probe_label);

}  // namespace pathgrad::course
