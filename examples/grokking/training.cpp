// The grokking training loop: metrics, progress, checkpoints, early stop and interrupts.
#include "examples/grokking/training.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <csignal>

#include "autograd/engine.hpp"
#include "nn/loss.hpp"
#include "nn/serialize.hpp"
#include "optim/checkpoint.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::grokking {

namespace {

volatile std::sig_atomic_t g_stop_requested = 0;
extern "C" void request_stop(int) { g_stop_requested = 1; }

// Ctrl-C and SIGTERM end the loop after the current step instead of killing the process.
class StopOnSignal {
 public:
  StopOnSignal() {
    g_stop_requested = 0;
    old_int_ = std::signal(SIGINT, request_stop);
    old_term_ = std::signal(SIGTERM, request_stop);
  }
  ~StopOnSignal() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
  bool requested() const { return g_stop_requested != 0; }

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

std::string duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace

double accuracy(const Tensor& log_probs, const Tensor& y) {
  const Tensor hits = kernel::eq(kernel::argmax(log_probs, 1), y);
  return kernel::mean(hits.to(DType::Float64)).item();
}

Evaluation evaluate(nn::Module& model, const Tensor& x, const Tensor& y) {
  NoGradGuard no_grad;
  const Tensor out = model.forward(x);
  return {nn::nll_loss(out, y).item(), accuracy(out, y)};
}

TrainingOutcome train(Transformer& model, optim::AdamW& optimizer, data::DataLoader& loader,
                      const data::ModularData& data, const Config& config, const RunDir& dir, TrainingOutcome outcome,
                      const std::vector<optim::CheckpointPart>& parts) {
  StopOnSignal stop;
  const auto start = std::chrono::steady_clock::now();
  const double earlier = outcome.seconds;
  const int64_t first = optimizer.steps_taken();
  auto elapsed = [&] { return earlier + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  auto checkpoint = [&] {
    outcome.seconds = elapsed();
    optim::save_checkpoint(dir.checkpoint(), model, optimizer, loader, outcome_to_json(outcome), {}, parts);
  };

  for (int64_t s = first;; s = optimizer.steps_taken()) {
    // Metrics of θ_s: the training loss is the one this step descends. A run resumed from its
    // final checkpoint has them already.
    const data::Batch& batch = loader.next();
    const Tensor out = model.forward(batch.x);
    const Tensor loss = nn::nll_loss(out, batch.y);
    const double train_acc = accuracy(out, batch.y);
    const Evaluation val = evaluate(model, data.val.x, data.val.y);
    if (!std::isfinite(loss.item()))
      throw std::runtime_error(fmt::format(
          "step {}: the training loss is {}: training has diverged (--lr {} is too large?). The run stops here; "
          "{} keeps the last checkpoint",
          s, loss.item(), config.lr, dir.checkpoint()));
    if (outcome.metrics.step.empty() || outcome.metrics.step.back() < static_cast<double>(s))
      outcome.metrics.add(s, loss.item(), train_acc, val.loss, val.accuracy);
    if (s % config.progress_every == 0 || s == config.steps) {
      const double t = elapsed(), per_step = s > first ? (t - earlier) / static_cast<double>(s - first) : 0.0;
      fmt::print("step {:>5}/{}  train loss {:.4f} acc {:5.1f}%  val loss {:.4f} acc {:5.1f}%  elapsed {}  left <= {}\n",
                 s, config.steps, loss.item(), 100 * train_acc, val.loss, 100 * val.accuracy, duration(t),
                 duration(per_step * static_cast<double>(config.steps - s)));
      std::fflush(stdout);
    }
    if (train_acc == 1.0 && val.accuracy == 1.0) {
      outcome.converged = true;
      break;
    }
    if (s >= config.steps) break;
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    const int64_t done = optimizer.steps_taken();
    if (done % config.checkpoint_every == 0) {
      nn::save_weights(model, dir.weights(done));
      checkpoint();
    }
    if (stop.requested() || done == config.stop_after) {
      if (done % config.checkpoint_every != 0) checkpoint();
      outcome.interrupted = true;
      break;
    }
  }
  outcome.steps = optimizer.steps_taken();
  if (!outcome.interrupted && outcome.steps > 0) checkpoint();  // the final state, for the final phase
  outcome.seconds = elapsed();
  return outcome;
}

nlohmann::json outcome_to_json(const TrainingOutcome& o) {
  return {{"metrics", o.metrics.to_json()}, {"seconds", o.seconds}};
}

TrainingOutcome outcome_from_json(const nlohmann::json& j) {
  TrainingOutcome o;
  o.metrics = Metrics::from_json(j.at("metrics"));
  o.seconds = j.at("seconds").get<double>();
  return o;
}

}  // namespace pathgrad::grokking
