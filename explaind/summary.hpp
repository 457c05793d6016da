// What a tracker costs (estimated before training) and what it found (the figures of
// summary.json).
#pragma once

#include <cstdint>
#include <string>

namespace pathgrad::explaind {

// What a configuration will hold and spend, computed before training starts.
struct Cost {
  int64_t probe_scalars = 0, sample_level_probes = 0, parameters = 0, components = 0, training_samples = 0;
  int64_t nodes_per_step = 0;            // quadrature nodes (before refinement)
  int ranks = 1;                         // the sample level over this many ranks (TrackerOptions::communicator)
  int64_t samples_per_rank = 0;          // training samples of the rank with the most
  double memory_bytes = 0;               // everything the tracker holds at once (per rank: rank 0's)
  double buffer_bytes = 0;               // of which per-sample buffers (per rank: the largest)
  double probe_gradients_per_step = 0;   // contracted probe-scalar gradients
  double sample_gradients_per_step = 0;  // full gradients of sample-level probes + batch samples
  double kernel_flops_per_step = 0;      // the per-sample kernel GEMMs (per rank: the largest)
  std::string report() const;            // a few readable lines
};

// The figures of summary.json.
struct Summary {
  int64_t steps = 0;
  // output_scale: mean |F(θ_S)|; change_scale: mean |F(θ_S) − F(θ_0)|, what training moved.
  double replica_max_abs_error = 0, replica_mean_abs_error = 0, output_scale = 0, change_scale = 0;
  double residual_max = 0, residual_abs_sum_max = 0;
  // Over probe sets tracked on all outputs (empty when none): argmax agreement and
  // mean KL(softmax(real) || softmax(replica)) of the output vectors.
  double argmax_agreement = -1, mean_kl = -1;
  double marginal_mismatch = 0;  // worst |Σ samples + decay + residual − total| / scale
  double linear_form_mismatch = 0;
  int64_t gradient_evaluations = 0;
  int64_t forward_evaluations = 0;  // forward rows (crossing search, piece ends); 0 in older runs
  int deepest_refinement = 0;
  // Seconds spent tracking in this process (a resumed run counts from its resume), and of them in
  // the sample level (0 without it).
  double tracking_seconds = 0, sample_level_seconds = 0;
  // The most bytes tensors held at once during this process's tracked steps (StoragePeakMeter
  // around each step): the training's tensors, the tracker's and its passes' working memory. The
  // storage cache keeps live + cached buffers within 9/8 of the most tensors ever held
  // (tensor/tensor.hpp); compare it with Cost::memory_bytes, stated before training. 0 in runs
  // recorded before it was.
  double peak_tensor_bytes = 0;
};

}  // namespace pathgrad::explaind
