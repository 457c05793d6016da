// Measuring a training step and a probe gradient before training, and the estimates from them.
#include "examples/cifar2/step_timing.hpp"

#include <fmt/format.h>

#include <chrono>
#include <utility>

#include "autograd/ops.hpp"
#include "examples/common/duration.hpp"
#include "nn/loss.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::cifar2 {

namespace {
template <class F>
double seconds_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

StepTiming measure_step_timing(ResNet9& model, optim::Optimizer& optimizer, const Tensor& images, const Tensor& labels,
                               ResNet9* probe_model, const Tensor& probe_images) {
  StepTiming t;
  for (int pass = 0; pass < 2; ++pass) {  // the first pass warms up (allocations, BLAS threads)
    t.training = seconds_of([&] { nn::nll_loss(model.forward(images), labels).backward(); });
    optimizer.zero_grad();
  }
  if (probe_model) {
    const Tensor x = probe_images.to(DType::Float64);  // [K, 3, 32, 32]
    t.probe_gradient = seconds_of([&] { sum(probe_model->forward(x)).backward(); }) / static_cast<double>(x.size(0));
    probe_model->zero_grad();
  }
  return t;
}

namespace {
// Seconds per step of one tracker, before refinement: every probe scalar's gradient at every node
// (the sample-level probes' full, the others' contracted, alike), the batch's per-sample
// gradients and the kernel GEMMs (at an assumed 10 GFLOP/s, this machine's float64 order).
double tracker_seconds(const explaind::Cost& c, double probe_gradient) {
  return (static_cast<double>(c.nodes_per_step * c.probe_scalars) + c.sample_gradients_per_step) * probe_gradient +
         c.kernel_flops_per_step / 1e10;
}
}  // namespace

std::string describe(const StepTiming& t, const explaind::Cost* main, const explaind::Cost* importance, int64_t steps,
                     int64_t total_steps, int64_t importance_chunks) {
  std::string s = fmt::format("training step (measured, forward + backward of one batch): {:.2f} s; {} steps: ~{}\n",
                              t.training, steps, examples::format_duration(t.training * static_cast<double>(steps)));
  double per_step = t.training;
  for (const auto& [name, cost] : {std::pair{"main tracker", main}, {"importance tracker", importance}}) {
    if (!cost) continue;
    const double seconds = tracker_seconds(*cost, t.probe_gradient);
    per_step += seconds;
    s += fmt::format(
        "{} (estimated from {:.3f} s per float64 probe-image gradient, before refinement): ~{:.1f} s per "
        "step\n",
        name, t.probe_gradient, seconds);
  }
  double seconds = per_step * static_cast<double>(steps);
  if (importance && importance_chunks > 1) {
    const double rerun =
        (t.training + tracker_seconds(*importance, t.probe_gradient)) * static_cast<double>(total_steps);
    seconds += rerun * static_cast<double>(importance_chunks - 1);
    s += fmt::format(
        "importance images in {} chunks: each further chunk reruns the training with its tracker, ~{} "
        "each\n",
        importance_chunks, examples::format_duration(rerun));
  }
  if (main || importance)
    s += fmt::format("whole run: ~{} (refinement adds to the main tracker's share)\n",
                     examples::format_duration(seconds));
  return s;
}

}  // namespace pathgrad::cifar2
