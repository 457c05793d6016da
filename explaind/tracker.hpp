// The path-kernel tracker: attach it to a model, its optimizer and its data loader, give it
// probes, train as usual — every optimizer step is accounted for as it happens (path-kernel.md).
//
//   explaind::Tracker tracker(net, opt, loader, loss, {probes},
//                             explaind::TrackerOptions().per_sample(true).output_dir("run/explaind"));
//   std::cout << tracker.cost_report();            // what it will hold and spend, before training
//   for (...) { opt.zero_grad(); loss(...).backward(); opt.step(); }   // no extra call
//   explaind::Summary s = tracker.finish();        // writes the exports and summary.json
//
// Contracts:
// - The tracker never changes the training trajectory: it reads parameters, never writes the
//   optimizer's .grad, and restores any parameter it evaluates at other points bit for bit.
// - Memory does not grow with the number of steps: per-step and per-window arrays are streamed
//   to the output directory as they are produced.
// - It works through the optimizer's step descriptions (optim/step_description.hpp), so every
//   optimizer, schedule, clipping factor and uneven batch is handled the same way.
// - Probe arithmetic runs in the dtype of the model it is evaluated on. For exact float64
//   accounting of a float32 model, pass a float64 copy of the model as probe_model(): the
//   tracker loads θ into it (the float32 trajectory is exactly representable in float64).
// - The sample level recomputes each batch's per-sample losses at θ_s with the probe model and
//   the loss given here; it therefore needs a deterministic forward pass (no Dropout in training
//   mode, no batch statistics) and a loss equal to the one trained on (Mean: a_i = 1/B, Sum:
//   a_i = 1). Every step checks that the samples' shares add up to the data part of the update
//   and fails with a clear error if they do not (see TrackerOptions::check_tolerance).
// - Over MPI ranks (TrackerOptions::communicator, docs/scaling.md) every rank builds the tracker
//   with the same options; the sample level's steps and the checkpoint part's save are collective
//   (every rank takes every optimizer step and saves every checkpoint with
//   optim::save_checkpoint(comm, ...)). Rank 0 alone holds the results and writes the exports.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "explaind/components.hpp"
#include "explaind/path_kernel.hpp"
#include "explaind/probes.hpp"
#include "explaind/quadrature.hpp"
#include "explaind/summary.hpp"
#include "nn/data/loader.hpp"
#include "nn/loss.hpp"
#include "nn/module.hpp"
#include "nn/options.hpp"
#include "optim/checkpoint.hpp"
#include "optim/communicator.hpp"
#include "optim/optimizer.hpp"

namespace pathgrad::explaind {

// The tracker's options, with the only defaults there are (the tracker copies them into the
// PathKernelConfig it builds). Each has a chained setter and a getter: `opts.tolerance(1e-8)`,
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

class Tracker : public optim::StepObserver {
 public:
  Tracker(nn::Module& model, optim::Optimizer& optimizer, const nn::data::DataLoader& loader, LossFn loss,
          std::vector<ProbeSet> probes, TrackerOptions options = {});
  ~Tracker() override;
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // What a tracker of this configuration would hold and spend (its cost_report()), without
  // building it: the same checks as the constructor, nothing allocated, no memory-budget check.
  // For sizing: e.g. how many probes fit a memory budget.
  static Cost estimate(nn::Module& model, const optim::Optimizer& optimizer, const nn::data::DataLoader& loader,
                       std::vector<ProbeSet> probes, const TrackerOptions& options = {});

  // With a communicator of several ranks, every figure is per rank (rank 0's, which holds the most).
  const Cost& cost() const { return cost_; }
  std::string cost_report() const { return cost_.report(); }
  // The path kernel: on rank 0 only (std::logic_error on the other ranks of a communicator).
  const PathKernel& kernel() const;

  void before_step(const optim::Optimizer& optimizer) override;
  void after_step(const optim::Optimizer& optimizer, const optim::StepDescription& step) override;

  // Saves everything accumulated so far into <dir>/tracker_state.safetensors and the per-sample
  // buffers into <dir>/sample_buffers_<k>_of_<K>.safetensors (one per block of samples), for a
  // resume with TrackerOptions::resume_from(dir). Needs at least one step accounted for. With a
  // communicator, every rank writes its own files (rank 0 the state and its blocks' buffers, the
  // others their blocks'), all into the same `dir`: the resumed run may use another number of
  // ranks, but the same sample_shards (otherwise it stops naming the missing file). Rather than calling
  // it beside optim::save_checkpoint (a crash between the two leaves them a step apart), save it
  // inside the checkpoint with checkpoint_part().
  void save_state(const std::string& dir);
  // This tracker's state as a part of the training checkpoint, named "tracker", installed in the
  // same atomic step as the model, optimizer and loader:
  //   optim::save_checkpoint(dir, net, opt, loader, extra, {}, {tracker.checkpoint_part()});
  // (over several ranks: optim::save_checkpoint(comm, ...) of optim/checkpoint_ranks.hpp, on every rank)
  // and, in the resumed process (after load_checkpoint):
  //   TrackerOptions().resume_from(optim::checkpoint_part_dir(dir, "tracker"))
  // `name` tells apart the parts of several trackers attached to one optimizer.
  optim::CheckpointPart checkpoint_part(std::string name = "tracker");

  // Evaluates the final model, writes every export (see docs/explaind-exports.md) into the output
  // directory, detaches from the optimizer and returns the summary. Call once, after training.
  // On the other ranks of a communicator: detaches, writes nothing and returns an empty summary.
  Summary finish();

 private:
  struct Plan;
  static Plan plan(nn::Module& model, const optim::Optimizer& optimizer, const nn::data::DataLoader& loader,
                   nn::Module& eval_model, std::vector<ProbeSet> probes, const TrackerOptions& options);
  // The sample level's share of a rank other than rank 0.
  std::unique_ptr<SampleShard> make_shard(const Plan& p, const ForwardFn& forward);

  nn::Module& model_;
  optim::Optimizer& optimizer_;
  const nn::data::DataLoader& loader_;
  LossFn loss_;
  TrackerOptions options_;
  nn::Module& eval_model_;
  Cost cost_;
  ParamLayout layout_;                  // of the optimizer's parameters
  std::unique_ptr<PathKernel> kernel_;  // rank 0's (the process's without a communicator)
  std::unique_ptr<SampleShard> shard_;  // the other ranks' share of the sample level
  Tensor theta_before_;  // float64 [P]: θ_s
  bool attached_ = false;
  double seconds_ = 0;
};

}  // namespace pathgrad::explaind
