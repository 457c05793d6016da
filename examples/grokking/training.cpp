// The grokking training loop: metrics, progress, checkpoints, early stop and interrupts.
#include "examples/grokking/training.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "autograd/engine.hpp"
#include "examples/common/checkpoint_pacing.hpp"
#include "examples/common/duration.hpp"
#include "examples/common/nll_objective.hpp"
#include "examples/common/outcome_json.hpp"
#include "examples/common/stop_on_signal.hpp"
#include "nn/loss.hpp"
#include "nn/serialize.hpp"
#include "optim/checkpoint_ranks.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::grokking {
TrainingOutcome train(Transformer& model, optim::AdamW& optimizer, nn::data::DataLoader& loader,
                      const nn::data::ModularData& data, const Config& config, const RunDir& dir,
                      TrainingOutcome outcome, const std::vector<optim::CheckpointPart>& parts,
                      const optim::Communicator& comm) {
  examples::StopOnSignal stop;
  const auto start = std::chrono::steady_clock::now();
  const double earlier = outcome.seconds;
  const int64_t first = optimizer.steps_taken();
  auto elapsed = [&] {
    return earlier + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  examples::CheckpointPacing pacing;
  auto checkpoint = [&] {  // written once, by rank 0; every rank adds its files of the parts
    outcome.seconds = elapsed();
    optim::save_checkpoint(comm, dir.checkpoint(), model, optimizer, loader, outcome_to_json(outcome), {}, parts);
    outcome.checkpoint_seconds += pacing.wrote(optimizer.steps_taken(), outcome.seconds, elapsed());
  };

  for (int64_t s = first;; s = optimizer.steps_taken()) {
    // Metrics of θ_s: the training loss is the one this step descends. A run resumed from its
    // final checkpoint has them already.
    const nn::data::Batch& batch = loader.next();
    const examples::BatchLoss train_loss = examples::backward_mean_nll(model, optimizer, batch, config.shards, comm);
    const Evaluation val = evaluate(model, data.val.x, data.val.y);
    if (!std::isfinite(train_loss.loss))
      throw std::runtime_error(fmt::format(
          "step {}: the training loss is {}: training has diverged (--lr {} is too large?). The run stops here; "
          "{} keeps the last checkpoint",
          s, train_loss.loss, config.lr, dir.checkpoint()));
    if (outcome.metrics.step.empty() || outcome.metrics.step.back() < static_cast<double>(s))
      outcome.metrics.add(s, train_loss.loss, train_loss.accuracy, val.loss, val.accuracy);
    if (s % config.progress_every == 0 || s == config.steps) {
      const double t = elapsed(), per_step = s > first ? (t - earlier) / static_cast<double>(s - first) : 0.0;
      fmt::print(
          "step {:>5}/{}  train loss {:.4f} acc {:5.1f}%  val loss {:.4f} acc {:5.1f}%  elapsed {}  left <= {}\n", s,
          config.steps, train_loss.loss, 100 * train_loss.accuracy, val.loss, 100 * val.accuracy,
          examples::format_duration(t), examples::format_duration(per_step * static_cast<double>(config.steps - s)));
      std::fflush(stdout);
    }
    if (train_loss.accuracy == 1.0 && val.accuracy == 1.0) {
      outcome.converged = true;
      break;
    }
    if (s >= config.steps) break;
    optimizer.step();
    const int64_t done = optimizer.steps_taken();
    if (done % config.checkpoint_every == 0) {
      if (comm.is_root()) nn::save_weights(model, dir.weights(done));
      if (pacing.due(elapsed(), comm)) checkpoint();
    }
    if (comm.any(stop.requested()) || done == config.stop_after) {
      if (!pacing.holds(done)) checkpoint();
      outcome.interrupted = true;
      break;
    }
  }
  outcome.steps = optimizer.steps_taken();
  if (!outcome.interrupted && outcome.steps > 0) checkpoint();  // the final state, for the final phase
  outcome.seconds = elapsed();
  return outcome;
}

nlohmann::json outcome_to_json(const TrainingOutcome& o) { return examples::outcome_json(o); }

TrainingOutcome outcome_from_json(const nlohmann::json& j) { return examples::outcome_from<TrainingOutcome>(j); }

}  // namespace pathgrad::grokking
