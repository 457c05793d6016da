// The tracker's options (TrackerOptions): what is tracked, how exactly each step is integrated,
// where the exports go, and the sample level's memory and ranks. Its own header because the path
// kernel (explaind/path_kernel.hpp) reads them too, and must not include the tracker.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "explaind/components.hpp"
#include "explaind/quadrature.hpp"
#include "nn/loss.hpp"
#include "nn/options.hpp"
#include "optim/communicator.hpp"
#include "tensor/dtype.hpp"

namespace pathgrad::nn {
class Module;
}

namespace pathgrad::explaind {

// The tracker's options, with the only defaults there are (the PathKernelConfig the tracker builds
// holds them as given). Each has a chained setter and a getter: `opts.tolerance(1e-8)`,
// `opts.tolerance()`.
class TrackerOptions {
  // Level 2: the sample-wise (data) influence for probe sets marked sample_level.
  PATHGRAD_ARG(bool, per_sample) = false;
  // Level 3: sample × component (needs per_sample) and probe × parameter for sample-level probes.
  PATHGRAD_ARG(bool, combinations) = false;
  // Probe × parameter influence (total and per window, data and weight-decay parts apart) for the
  // probe sets marked sample_level, without the sample level: it needs those probes' own full
  // gradients at the quadrature nodes, no per-sample gradients of the training data.
  PATHGRAD_ARG(bool, parameter_wise) = false;
  // With parameter_wise: also per window (parameter_window_data, windows × M_s × P float64 on disk
  // and one more M_s × P accumulator). Off for many probes, e.g. pruning scores over the whole run.
  PATHGRAD_ARG(bool, parameter_windows) = true;
  PATHGRAD_ARG(QuadratureRule, rule) = gauss_legendre(2);
  // Every step starts from this many equal pieces of the segment, each integrated with the rule.
  PATHGRAD_ARG(int64_t, pieces) = 1;
  // Split each probe input's segment at its ReLU crossings (path-kernel.md §4b).
  PATHGRAD_ARG(bool, kink_aware) = true;
  // Within each piece, give ReLU units and max-pool windows that switch between its ends their
  // active fraction in the backward pass (path-kernel.md §4d): the error of a switch falls from
  // O(h) to O(h²) in the piece width — what makes CNNs, with thousands of switches per step,
  // trackable.
  PATHGRAD_ARG(bool, active_fractions) = true;
  // Halve the pieces of probe inputs whose |ρ_s| exceeds tolerance (absolute).
  PATHGRAD_ARG(bool, adaptive) = true;
  // When a piece is halved, accept the Richardson combination (4·(halves) − piece) / 3 if its own
  // residual is within tolerance·(b − a) (path-kernel.md §4e): it cancels the O(h²) error that
  // active fractions leave, so CNN steps need fewer halvings.
  PATHGRAD_ARG(bool, extrapolate) = false;
  // Per-step |ρ| target, absolute, per probe scalar.
  PATHGRAD_ARG(double, tolerance) = 1e-9;
  // Halvings at most.
  PATHGRAD_ARG(int, max_depth) = 6;
  // Windows of the windowed exports: every `window` steps, or explicit `window_edges` (windows
  // [0, e1), [e1, e2), ..., [e_last, end)).
  PATHGRAD_ARG(int64_t, window) = 100;
  PATHGRAD_ARG(std::vector<int64_t>, window_edges);
  // Extra components (attention heads, ...), added to the defaults (per tensor, per module).
  PATHGRAD_ARG(std::vector<Component>, components);
  // How the loss trained on reduces the per-sample losses: Mean (a_i = 1/B) or Sum (a_i = 1);
  // the tracker refuses None.
  PATHGRAD_ARG(nn::Reduction, reduction) = nn::Reduction::Mean;
  PATHGRAD_ARG(std::string, output_dir) = "explaind";
  // The tracker refuses to start when its estimated memory exceeds this (bytes).
  PATHGRAD_ARG(double, memory_budget) = 8.0 * (1ull << 30);
  // Training samples per per-sample-gradient chunk.
  PATHGRAD_ARG(int64_t, chunk_size) = 256;
  // Probe rows per batched probe evaluation.
  PATHGRAD_ARG(int64_t, probe_chunk_size) = 256;
  // Storage of the per-sample buffers: Float64 (exact) or Float32 (half the memory).
  PATHGRAD_ARG(DType, buffer_dtype) = DType::Float64;
  // A second instance of the model (same parameter names and shapes), typically in float64,
  // on which probes are evaluated. Not owned.
  PATHGRAD_ARG(nn::Module*, probe_model) = nullptr;
  // Continue a tracked run from the tracker state saved by Tracker::save_state(dir) (restore
  // the model, optimizer and loader from their checkpoint too; see optim/checkpoint.hpp).
  PATHGRAD_ARG(std::string, resume_from);
  // The sample level over the ranks of `communicator` (docs/scaling.md): the N training samples
  // are cut into sample_shards fixed, contiguous blocks (between the number of ranks and N), and
  // each rank holds the per-sample buffers of its blocks (explaind/sample_shard.hpp) and computes
  // their per-sample gradients and kernel products; rank 0 alone integrates the probes (φ̂_s, sent
  // to every rank each step), receives every sample's shares, holds the results and writes the
  // exports. Every rank builds its tracker with the same options and trains in lockstep (its
  // optimizer takes the same steps). The results do not depend on the number of ranks, bit for
  // bit; sample_shards changes only the grouping of the per-sample gradients into chunks. nullptr:
  // not sharded (the tracker is this process's alone, as without MPI).
  PATHGRAD_ARG(const optim::Communicator*, communicator) = nullptr;
  PATHGRAD_ARG(int64_t, sample_shards) = 1;
  // Relative tolerance of the per-step check that the samples' shares add up to the data part
  // φ̂·(Δθ − R) of the update (sample level), relative to Σ_p |φ̂_p (Δθ − R)_p| + Σ_i |share_i|
  // (both sums cancel; rounding is relative to their terms). 0 (the default) means: 1e-6
  // when both the trained model and the probe model are float64; 1e-3 when either is float32
  // (the optimizer's float32 gradient and the float64 shares then agree to ~1e-5 relative:
  // docs/explaind-exports.md).
  PATHGRAD_ARG(double, check_tolerance) = 0;
};

}  // namespace pathgrad::explaind
