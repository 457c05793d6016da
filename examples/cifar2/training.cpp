// The CIFAR-2 training loop: SGD steps, metrics, progress, checkpoints and pauses.
#include "examples/cifar2/training.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <stdexcept>

#include "examples/common/checkpoint_pacing.hpp"
#include "examples/common/duration.hpp"
#include "examples/common/evaluation.hpp"
#include "examples/common/nll_objective.hpp"
#include "examples/common/outcome_json.hpp"
#include "examples/common/stop_on_signal.hpp"
#include "nn/loss.hpp"
#include "nn/serialize.hpp"
#include "optim/checkpoint_ranks.hpp"

namespace pathgrad::cifar2 {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kEvalBatch = 500;  // test images per forward pass

struct StepResult {
  double lr = 0, loss = 0, accuracy = 0;
};

// One SGD step on the loader's next batch (its gradient formed over the ranks' shards); its loss
// and accuracy are those of θ_s, before the update.
StepResult sgd_step(Trainee& t, int64_t s) {
  const nn::data::Batch& batch = t.loader.next();  // x [B, 3, 32, 32] flipped, y [B]
  const examples::BatchLoss b = examples::backward_mean_nll(t.model, t.optimizer, batch, t.shards, t.comm);
  const StepResult r{t.optimizer.scheduled_lr(), b.loss, b.accuracy};
  if (!std::isfinite(r.loss))
    throw std::runtime_error(fmt::format(
        "step {}: the training loss is {}: training has diverged (--lr too large?). The run stops here; the last "
        "checkpoint stays",
        s, r.loss));
  t.optimizer.step();
  return r;
}

void evaluate_epoch(Trainee& t, int64_t epoch, Metrics& m) {
  const examples::Evaluation e = examples::evaluate(t.model, t.test.images, t.test.labels, kEvalBatch);
  m.add_epoch(epoch, t.optimizer.steps_taken(), e.loss, e.accuracy);
}

void print_progress(const Metrics& m, int64_t total, double elapsed, double per_step) {
  const int64_t s = static_cast<int64_t>(m.step.back());
  fmt::print(
      "step {:>4}/{}  lr {:.4f}  batch loss {:.4f} acc {:5.1f}%  test acc {:5.1f}% (epoch {})  {:.2f} s/step  "
      "elapsed {}  left {}\n",
      s + 1, total, m.lr.back(), m.train_loss.back(), 100 * m.train_acc.back(), 100 * m.test_acc.back(),
      static_cast<int64_t>(m.epoch.back()), per_step, examples::format_duration(elapsed),
      examples::format_duration(per_step * static_cast<double>(total - s - 1)));
  std::fflush(stdout);
}

}  // namespace

int64_t total_steps(const Config& config, const nn::data::DataLoader& loader) {
  return config.epochs * loader.batches_per_epoch();
}

TrainingOutcome train(Trainee& t, const Config& config, const RunDir& dir, const TrainingFiles& files,
                      TrainingOutcome outcome, const std::vector<optim::CheckpointPart>& parts) {
  examples::StopOnSignal stop;
  const auto start = Clock::now();
  const double earlier = outcome.seconds;
  const int64_t first = t.optimizer.steps_taken(), total = total_steps(config, t.loader);
  const int64_t per_epoch = t.loader.batches_per_epoch();
  auto session = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  examples::CheckpointPacing pacing;
  auto checkpoint = [&] {
    outcome.seconds = earlier + session();
    // Written once, by rank 0; every rank adds its files of the parts (its per-sample buffers).
    optim::save_checkpoint(t.comm, files.checkpoint, t.model, t.optimizer, t.loader, outcome_to_json(outcome), {},
                           parts);
    outcome.checkpoint_seconds += pacing.wrote(t.optimizer.steps_taken(), outcome.seconds, earlier + session());
  };
  if (outcome.metrics.epoch.empty()) evaluate_epoch(t, 0, outcome.metrics);  // the initial model
  const auto loop_start = Clock::now();  // the progress lines' seconds per step count from here
  for (int64_t s = first; s < total; ++s) {
    const StepResult r = sgd_step(t, s);
    outcome.metrics.add_step(s, r.lr, r.loss, r.accuracy);
    const int64_t done = s + 1;
    if (done % per_epoch == 0) evaluate_epoch(t, done / per_epoch, outcome.metrics);
    if (done % config.progress_every == 0 || done == total || done == first + 1)
      print_progress(
          outcome.metrics, total, earlier + session(),
          std::chrono::duration<double>(Clock::now() - loop_start).count() / static_cast<double>(done - first));
    if (done % config.checkpoint_every == 0) {
      if (files.interval_weights && t.comm.is_root()) nn::save_weights(t.model, dir.weights(done));
      if (pacing.due(earlier + session(), t.comm)) checkpoint();
    }
    if (t.comm.any(stop.requested()) || done == config.stop_after) {
      if (!pacing.holds(done)) checkpoint();
      outcome.interrupted = true;
      break;
    }
  }
  outcome.steps = t.optimizer.steps_taken();
  if (!outcome.interrupted) checkpoint();  // the final state, for the final phase
  outcome.seconds = earlier + session();
  return outcome;
}

nlohmann::json outcome_to_json(const TrainingOutcome& o) { return examples::outcome_json(o); }

TrainingOutcome outcome_from_json(const nlohmann::json& j) { return examples::outcome_from<TrainingOutcome>(j); }

}  // namespace pathgrad::cifar2
