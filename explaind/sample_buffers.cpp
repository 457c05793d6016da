// Lazily scaled per-sample buffers and their kernel products (kernel::row_products for float64
// buffers, sgemm through kernel::matmul for float32 ones).
#include "explaind/sample_buffers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"
#include "tensor/row_products.hpp"

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

namespace {
// Throws std::invalid_argument unless add() can take these arguments.
void check_add_arguments(const Tensor& ids, const std::vector<Tensor>& grads, const Tensor& weights,
                         const std::vector<double>& scales, const ParamLayout& layout) {
  const int64_t b = ids.numel();
  if (ids.dtype() != DType::Int64 || weights.shape() != Shape{b} || !is_floating_point(weights.dtype()))
    throw std::invalid_argument(fmt::format(
        "SampleBuffers::add: ids {} {} and weights {} {} (expected int64 [b], float [b])", shape_str(ids.shape()),
        dtype_name(ids.dtype()), shape_str(weights.shape()), dtype_name(weights.dtype())));
  if (static_cast<int64_t>(grads.size()) != layout.count() || static_cast<int64_t>(scales.size()) != layout.count())
    throw std::invalid_argument(fmt::format("SampleBuffers::add: {} gradients and {} scales for {} tensors",
                                            grads.size(), scales.size(), layout.count()));
  for (int64_t p = 0; p < layout.count(); ++p) {
    const Tensor& g = grads[static_cast<size_t>(p)];
    if (g.dtype() != DType::Float64 || g.dim() < 1 || g.size(0) != b || g.numel() != b * layout.numel(p))
      throw std::invalid_argument(
          fmt::format("SampleBuffers::add: gradient of '{}' is {} {} (expected float64 [{}, {}])", layout.name(p),
                      shape_str(g.shape()), dtype_name(g.dtype()), b, shape_str(layout.shape(p))));
  }
}
}  // namespace

void SampleBuffers::add(const Tensor& ids, const std::vector<Tensor>& grads, const Tensor& weights,
                        const std::vector<double>& scales) {
  check_add_arguments(ids, grads, weights, scales, layout_);
  const Tensor idc = ids.contiguous(), a = weights.to(DType::Float64).contiguous();
  const int64_t b = idc.numel(), P = layout_.size(), count = layout_.count();
  const int64_t* id = idc.data<int64_t>();
  for (int64_t j = 0; j < b; ++j)
    if (id[j] < 0 || id[j] >= n_)
      throw std::out_of_range(
          fmt::format("SampleBuffers::add: sample id {} outside the training set of {}", id[j], n_));
  std::vector<Tensor> g(static_cast<size_t>(count));
  for (int64_t p = 0; p < count; ++p) g[p] = grads[p].contiguous();
  dispatch_float(stored_.dtype(), "SampleBuffers::add", [&](auto tag) {
    using T = decltype(tag);
    T* base = stored_.data<T>();
    // Columns [k0, k1) of θ: every row j, the parameter tensors that overlap them.
    parallel_for(P, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(b, 1)), [&](int64_t k0, int64_t k1) {
      for (int64_t p = 0; p < count; ++p) {
        const int64_t off = layout_.offset(p), len = layout_.numel(p);
        const int64_t lo = std::max(k0, off) - off, hi = std::min(k1, off + len) - off;
        const double c = scales[p] / sigma_[p];
        if (lo >= hi || c == 0.0) continue;
        for (int64_t j = 0; j < b; ++j) {
          T* row = base + id[j] * P + off;
          const double* src = g[p].data<double>() + j * len;
          const double aj = a.data<double>()[j];
          for (int64_t k = lo; k < hi; ++k) row[k] += static_cast<T>(c * (src[k] * aj));
        }
      }
    });
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
    const Tensor phi_part = K::narrow(scaled, 1, b, e - b), rows = K::narrow(stored_, 1, b, e - b);
    if (rows.dtype() == DType::Float64)
      K::add_(out, K::row_products(phi_part, rows));
    else
      K::add_(out, K::matmul(phi_part, K::transpose(rows, 0, 1)).to(DType::Float64));
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
