// Per-row path points and kink recording (thread-local state behind RAII guards).
#include "autograd/path_point.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "tensor/kernels.hpp"

namespace pathgrad {
namespace {
thread_local const PathPoint* g_point = nullptr;
thread_local KinkRecorder* g_recorder = nullptr;
}  // namespace

PathPointGuard::PathPointGuard(const std::vector<Tensor>& params, const std::vector<Tensor>& deltas, const Tensor& t) {
  if (g_point) throw std::logic_error("PathPointGuard: another path point is already active in this thread");
  if (params.size() != deltas.size())
    throw std::invalid_argument(
        fmt::format("PathPointGuard: {} deltas for {} parameters", deltas.size(), params.size()));
  if (t.dim() != 1) throw std::invalid_argument("PathPointGuard: t must be [R], got " + shape_str(t.shape()));
  for (size_t i = 0; i < params.size(); ++i) {
    if (deltas[i].shape() != params[i].shape() || deltas[i].dtype() != params[i].dtype() ||
        t.dtype() != params[i].dtype())
      throw std::invalid_argument(fmt::format("PathPointGuard: delta {} {} / t {} for parameter {} {}",
                                              shape_str(deltas[i].shape()), dtype_name(deltas[i].dtype()),
                                              dtype_name(t.dtype()), shape_str(params[i].shape()),
                                              dtype_name(params[i].dtype())));
    point_.deltas[params[i].impl_ptr().get()] = deltas[i].contiguous();
  }
  point_.t = t.contiguous();
  g_point = &point_;
}

PathPointGuard::~PathPointGuard() { g_point = nullptr; }

const PathPoint* current_path_point() { return g_point; }

Tensor path_delta(const Tensor& param) {
  if (!g_point || !param.defined()) return Tensor();
  auto it = g_point->deltas.find(param.impl_ptr().get());
  return it == g_point->deltas.end() ? Tensor() : it->second;
}

Tensor path_t_for(const Tensor& batch, const char* op) {
  const Tensor& t = g_point->t;
  if (batch.dim() < 1 || batch.size(0) != t.size(0))
    throw std::invalid_argument(
        fmt::format("{}: batch {} does not have the path point's {} rows", op, shape_str(batch.shape()), t.size(0)));
  Shape s(static_cast<size_t>(batch.dim()), 1);
  s[0] = t.size(0);
  return kernel::reshape(t, s);
}

Tensor path_value(const Tensor& param, const Tensor& batch, const char* op) {
  const Tensor delta = path_delta(param);
  if (!delta.defined()) return param;
  // W + t ⊗ ΔW as [R, 1, ..., 1, W's shape], with as many 1s as batch has dims beyond W's and R.
  const int64_t ones = batch.dim() - 1 - param.dim();
  if (ones < 0)
    throw std::invalid_argument(fmt::format("{}: parameter {} under a path point needs a batch with a row dim, got {}",
                                            op, shape_str(param.shape()), shape_str(batch.shape())));
  Shape w_shape(static_cast<size_t>(ones) + 1, 1);
  w_shape.insert(w_shape.end(), param.shape().begin(), param.shape().end());
  Shape t_shape(w_shape.size(), 1);
  t_shape[0] = g_point->t.size(0);
  if (batch.size(0) != t_shape[0])
    throw std::invalid_argument(
        fmt::format("{}: batch {} does not have the path point's {} rows", op, shape_str(batch.shape()), t_shape[0]));
  return kernel::add(kernel::reshape(param.contiguous(), w_shape),
                     kernel::mul(kernel::reshape(g_point->t, t_shape), kernel::reshape(delta, w_shape)));
}

KinkRecorder::KinkRecorder() {
  if (g_recorder) throw std::logic_error("KinkRecorder: another recorder is already active in this thread");
  g_recorder = this;
}

KinkRecorder::~KinkRecorder() { g_recorder = nullptr; }

void KinkRecorder::record(const Tensor& preactivation) {
  if (g_recorder) g_recorder->recorded_.push_back(preactivation.detach());
}

void KinkRecorder::record_pool(const Tensor& input, const Tensor& indices) {
  if (g_recorder) g_recorder->pools_.push_back({input.detach(), indices});
}

Tensor KinkRecorder::units() const {
  if (recorded_.empty()) throw std::logic_error("KinkRecorder: nothing was recorded (the model has no relu)");
  std::vector<Tensor> parts;
  const int64_t R = recorded_.front().size(0);
  for (const Tensor& z : recorded_) {
    if (z.dim() < 1 || z.size(0) != R)
      throw std::invalid_argument(
          fmt::format("KinkRecorder: pre-activation {} has no row dim of {}", shape_str(z.shape()), R));
    parts.push_back(kernel::reshape(z.contiguous(), {R, -1}));
  }
  return kernel::cat(parts, 1);
}

}  // namespace pathgrad
