// Lazily scaled per-sample buffers and their kernel products (GEMMs through kernel::matmul).
#include "explaind/sample_buffers.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "tensor/kernels.hpp"

namespace pathgrad::explaind {
namespace K = kernel;

SampleBuffers::SampleBuffers(int64_t num_samples, const ParamLayout& layout, DType dtype)
    : n_(num_samples), layout_(layout), sigma_(static_cast<size_t>(layout.count()), 1.0) {
  if (dtype != DType::Float32 && dtype != DType::Float64)
    throw_dtype_error("SampleBuffers", dtype, "float32 or float64");
  stored_ = Tensor::zeros({n_, layout.size()}, dtype);
}

std::size_t SampleBuffers::bytes() const {
  return static_cast<std::size_t>(stored_.numel()) * dtype_size(stored_.dtype());
}

void SampleBuffers::renormalize(int64_t p) {
  dispatch_float(stored_.dtype(), "SampleBuffers", [&](auto tag) {
    using T = decltype(tag);
    const T s = static_cast<T>(sigma_[p]);
    T* base = stored_.data<T>();
    const int64_t P = layout_.size(), off = layout_.offset(p), len = layout_.numel(p);
    for (int64_t i = 0; i < n_; ++i) {
      T* row = base + i * P + off;
      for (int64_t k = 0; k < len; ++k) row[k] *= s;
    }
  });
  sigma_[p] = 1.0;
}

void SampleBuffers::decay(const std::vector<double>& factors) {
  if (static_cast<int64_t>(factors.size()) != layout_.count())
    throw std::invalid_argument(
        fmt::format("SampleBuffers::decay: {} factors for {} tensors", factors.size(), layout_.count()));
  for (int64_t p = 0; p < layout_.count(); ++p) {
    if (factors[p] == 0.0) {  // the buffer restarts: clear it
      layout_.segment(stored_, p).fill_(0.0);
      sigma_[p] = 1.0;
      continue;
    }
    sigma_[p] *= factors[p];
    if (std::abs(sigma_[p]) < 1e-150) renormalize(p);
  }
}

void SampleBuffers::add(const Tensor& ids, const Tensor& grads, const std::vector<double>& scales) {
  const int64_t b = ids.numel(), P = layout_.size();
  if (ids.dtype() != DType::Int64 || grads.dtype() != DType::Float64 || grads.shape() != Shape{b, P})
    throw std::invalid_argument(fmt::format(
        "SampleBuffers::add: ids {} {} and gradients {} {} (expected int64 [b], float64 [b, {}])",
        shape_str(ids.shape()), dtype_name(ids.dtype()), shape_str(grads.shape()), dtype_name(grads.dtype()), P));
  Tensor idc = ids.contiguous(), g = grads.contiguous();
  const int64_t* id = idc.data<int64_t>();
  const double* gp = g.data<double>();
  dispatch_float(stored_.dtype(), "SampleBuffers::add", [&](auto tag) {
    using T = decltype(tag);
    T* base = stored_.data<T>();
    for (int64_t j = 0; j < b; ++j) {
      if (id[j] < 0 || id[j] >= n_)
        throw std::out_of_range(
            fmt::format("SampleBuffers::add: sample id {} outside the training set of {}", id[j], n_));
      for (int64_t p = 0; p < layout_.count(); ++p) {
        const double c = scales[p] / sigma_[p];
        if (c == 0.0) continue;
        T* row = base + id[j] * P + layout_.offset(p);
        const double* src = gp + j * P + layout_.offset(p);
        for (int64_t k = 0, len = layout_.numel(p); k < len; ++k) row[k] += static_cast<T>(c * src[k]);
      }
    }
  });
}

Tensor SampleBuffers::products(const Tensor& phi, const std::vector<std::pair<int64_t, int64_t>>& ranges) const {
  if (phi.dim() != 2 || phi.size(1) != layout_.size() || phi.dtype() != DType::Float64)
    throw std::invalid_argument(
        fmt::format("SampleBuffers::products: phi {} must be float64 [M, {}]", shape_str(phi.shape()), layout_.size()));
  // Fold σ into phi (per tensor), then one GEMM per contiguous range of θ.
  Tensor scaled = phi.clone();
  for (int64_t p = 0; p < layout_.count(); ++p) {
    if (sigma_[p] == 1.0) continue;
    Tensor seg = layout_.segment(scaled, p);
    seg.copy_(K::mul_scalar(seg, sigma_[p]));
  }
  if (stored_.dtype() == DType::Float32) scaled = scaled.to(DType::Float32);
  std::vector<std::pair<int64_t, int64_t>> rs = ranges;
  if (rs.empty()) rs.emplace_back(0, layout_.size());
  Tensor out = Tensor::zeros({phi.size(0), n_}, DType::Float64);
  for (const auto& [b, e] : rs) {
    Tensor part = K::matmul(K::narrow(scaled, 1, b, e - b), K::transpose(K::narrow(stored_, 1, b, e - b), 0, 1));
    K::add_(out, part.to(DType::Float64));
  }
  return out;
}

NamedTensors SampleBuffers::state() const {
  return {{"buffers.stored", stored_},
          {"buffers.sigma", Tensor::from_vector(sigma_, {static_cast<int64_t>(sigma_.size())}, DType::Float64)}};
}

void SampleBuffers::check_state(const NamedTensors& state) const {
  const NamedTensors expected = this->state();
  const auto fail = [](const std::string& problem) {
    throw std::invalid_argument("SampleBuffers::load_state: " + problem +
                                ": the saved buffers do not match this tracker's configuration");
  };
  if (state.size() != expected.size())
    fail(fmt::format("{} tensors given, expected {}", state.size(), expected.size()));
  for (size_t i = 0; i < state.size(); ++i) {
    const auto& [name, t] = state[i];
    const auto& [want_name, want] = expected[i];
    if (name != want_name) fail(fmt::format("tensor {} is '{}', expected '{}'", i, name, want_name));
    if (t.shape() != want.shape() || t.dtype() != want.dtype())
      fail(fmt::format("'{}' is {} {}, expected {} {}", name, dtype_name(t.dtype()), shape_str(t.shape()),
                       dtype_name(want.dtype()), shape_str(want.shape())));
  }
  for (double s : state[1].second.to_vector())  // decay() keeps every scale finite and at least 1e-150 in magnitude
    if (!std::isfinite(s) || std::abs(s) < 1e-150) fail(fmt::format("'buffers.sigma' holds the scale {}", s));
}

void SampleBuffers::load_state(const NamedTensors& state) {
  check_state(state);
  stored_.copy_(state[0].second);
  sigma_ = state[1].second.to_vector();
}

}  // namespace pathgrad::explaind
