// Measuring a training step and a probe gradient before training, and the estimates from them.
#include "examples/cifar2/step_timing.hpp"

#include <fmt/format.h>

#include <chrono>

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

std::string describe(const StepTiming& t, const explaind::Cost* cost, int64_t steps) {
  std::string s = fmt::format("training step (measured, forward + backward of one batch): {:.2f} s; {} steps: ~{}\n",
                              t.training, steps, examples::format_duration(t.training * static_cast<double>(steps)));
  if (!cost) return s;
  const double tracking = static_cast<double>(cost->nodes_per_step * cost->probe_scalars) * t.probe_gradient;
  return s + fmt::format(
                 "tracking (estimated: {} nodes x {} probe scalars x {:.3f} s per float64 probe gradient, before "
                 "refinement): ~{:.1f} s per step; whole run ~{}\n",
                 cost->nodes_per_step, cost->probe_scalars, t.probe_gradient, tracking,
                 examples::format_duration((t.training + tracking) * static_cast<double>(steps)));
}

}  // namespace pathgrad::cifar2
