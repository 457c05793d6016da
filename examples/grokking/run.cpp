// The grokking run: builds everything from the config, trains (resuming when asked), finishes
// the tracker and writes the report.
#include "examples/grokking/run.hpp"

#include <fmt/format.h>

#include <chrono>
#include <memory>

#include "examples/common/nll_objective.hpp"
#include "examples/common/replica_summary.hpp"
#include "examples/common/run_session.hpp"
#include "examples/grokking/probes.hpp"
#include "examples/grokking/report.hpp"
#include "explaind/quadrature.hpp"
#include "explaind/tracker.hpp"
#include "nn/init.hpp"
#include "nn/serialize.hpp"
#include "optim/checkpoint.hpp"
#include "optim/shard_plan.hpp"

namespace pathgrad::grokking {

namespace {

// The resumed checkpoint's training outcome (its `extra`), with errors naming the file.
TrainingOutcome load_training_state(const RunDir& dir, Transformer& model, optim::AdamW& optimizer,
                                    nn::data::DataLoader& loader) {
  return examples::parse_checkpoint_extra(
      dir.checkpoint(), optim::load_checkpoint(dir.checkpoint(), model, optimizer, loader), outcome_from_json);
}

explaind::TrackerOptions tracker_options(const Config& config, const RunDir& dir, nn::Module& probe_model,
                                         bool resuming) {
  return explaind::TrackerOptions()
      .parameter_wise(true)  // similarity matrices of the sample-level probes, at every level
      .per_sample(config.sample_level())
      .combinations(config.track == TrackLevel::Full)
      .rule(explaind::parse_rule(config.rule))
      .tolerance(config.tolerance)
      .max_depth(config.max_depth)
      .window_edges(config.window_edges)
      .components(head_components(config.model_shape()))
      .buffer_dtype(config.float32_buffers ? DType::Float32 : DType::Float64)
      .probe_model(&probe_model)
      // Training runs in float32: the optimizer's gradient and the float64 recomputation of the
      // per-sample gradients agree to float32 rounding, not to float64's.
      .check_tolerance(1e-3)
      .communicator(&optim::Communicator::world())  // the sample level over the ranks, in the training's shards
      .sample_shards(config.shards)
      .resume_from(resuming ? optim::checkpoint_part_dir(dir.checkpoint(), "tracker") : std::string())
      .output_dir(dir.explaind());
}

}  // namespace

RunResult run(const Config& flags, const std::string& command_line) {
  const auto start = std::chrono::steady_clock::now();
  const optim::Communicator& comm = optim::Communicator::world();
  Config config = flags;
  config.shards = flags.shards_for(comm.size());
  const RunDir dir{config.out};
  const bool resuming = examples::open_run_dir(config, dir, comm);
  // The full batch's shards must fit the ranks: checked before anything is written.
  (void)optim::ShardPlan(config.n_train, config.shards, comm.rank(), comm.size(), "--shards");
  if (comm.is_root()) examples::record_session(dir, to_json(config), command_line);

  const nn::data::ModularData data = make_data(config);
  if (comm.is_root()) data.save_csv(dir.split_csv());
  // Everything that draws from the default generator is built before a checkpoint restores it,
  // so that a resumed run continues the same random stream.
  nn::manual_seed(config.seed);
  Transformer model(config.model_shape());
  std::unique_ptr<Transformer> probe_model;
  if (config.tracking()) {
    probe_model = std::make_unique<Transformer>(config.model_shape(),
                                                Transformer::Queries::Last);  // its weights are the tracker's to set
    probe_model->to(DType::Float64);
  }
  if (!resuming && comm.is_root()) nn::save_weights(model, dir.weights(0));
  optim::AdamW optimizer(model.named_parameters(), optim::AdamWOptions(config.lr)
                                                       .betas(config.beta1, config.beta2)
                                                       .eps(config.eps)
                                                       .weight_decay(config.weight_decay));
  const nn::data::TensorDataset train_set = data.train.dataset();
  nn::data::DataLoader loader(train_set, nn::data::DataLoaderOptions(data.train.size()));

  TrainingOutcome resumed;
  if (resuming) {
    resumed = load_training_state(dir, model, optimizer, loader);
    fmt::print("resuming {} at step {}\n", config.out, optimizer.steps_taken());
  }
  const ProbeChoice probes = choose_probes(data, config);
  std::unique_ptr<explaind::Tracker> tracker;
  std::vector<optim::CheckpointPart> parts;
  if (config.tracking()) {  // on every rank: rank 0 tracks, the others hold their samples' share of the sample level
    tracker = std::make_unique<explaind::Tracker>(
        model, optimizer, loader, examples::per_sample_nll(), make_probe_sets(data, probes),
        tracker_options(config, dir, *probe_model, resuming && optimizer.steps_taken() > 0));
    fmt::print("{}", tracker->cost_report());
    parts.push_back(tracker->checkpoint_part());
  }
  RunResult result;
  result.training = train(model, optimizer, loader, data, config, dir, std::move(resumed), parts, comm);
  const TrainingOutcome& t = result.training;
  if (!comm.is_root()) return result;  // the final phase is rank 0's
  t.metrics.write_csv(dir.metrics_csv());
  if (t.interrupted) {
    fmt::print("paused after step {}: run the same command with --resume to continue\n", t.steps);
    return result;
  }
  nn::save_weights(model, dir.final_weights());
  fmt::print("{} after {} steps ({:.0f} s)\n", t.converged ? "train and validation accuracy reached 100 %" : "stopped",
             t.steps, t.seconds);
  if (tracker) {
    result.summary = tracker->finish();
    fmt::print("replica: max |error| {:.3g} (output scale {:.3g}), marginal mismatch {:.3g}\n",
               result.summary->replica_max_abs_error, result.summary->output_scale, result.summary->marginal_mismatch);
    fmt::print("{}", examples::memory_line(*result.summary, tracker->cost()));
  }
  if (config.report)
    write_report(ReportInputs{config, command_line, dir, data, probes, t, result.summary,
                              tracker ? tracker->cost_report() : std::string(), start});
  return result;
}

}  // namespace pathgrad::grokking
