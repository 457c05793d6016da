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
#include "explaind/tracker_options.hpp"
#include "nn/data/loader.hpp"
#include "nn/loss.hpp"
#include "nn/module.hpp"
#include "nn/options.hpp"
#include "optim/checkpoint.hpp"
#include "optim/communicator.hpp"
#include "optim/optimizer.hpp"

namespace pathgrad::explaind {

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
  // after_step's work: the step's record, accounted for by the path kernel or this rank's shard.
  void account_step(const optim::Optimizer& optimizer, const optim::StepDescription& desc);
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
  Tensor theta_before_;                 // float64 [P]: θ_s
  bool attached_ = false;
  double seconds_ = 0;
  double peak_tensor_bytes_ = 0;  // Summary::peak_tensor_bytes
};

}  // namespace pathgrad::explaind
