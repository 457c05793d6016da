// The flat parameter layout: copying parameters to and from one float64 vector.
#include "explaind/param_layout.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>

#include "tensor/kernels.hpp"

namespace pathgrad::explaind {

ParamLayout::ParamLayout(const NamedTensors& params) {
  for (const auto& [name, t] : params) {
    names_.push_back(name);
    shapes_.push_back(t.shape());
    offsets_.push_back(total_);
    total_ += t.numel();
  }
}

int64_t ParamLayout::index(const std::string& name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return static_cast<int64_t>(i);
  throw std::invalid_argument(
      fmt::format("no parameter named '{}'; the parameters are: {}", name, fmt::join(names_, ", ")));
}

Tensor ParamLayout::flatten(const NamedTensors& params) const {
  check_matches(params, "flatten");
  Tensor flat = Tensor::zeros({total_}, DType::Float64);
  for (size_t i = 0; i < params.size(); ++i)
    kernel::narrow(flat, 0, offsets_[i], numel(static_cast<int64_t>(i))).copy_(kernel::reshape(params[i].second, {-1}));
  return flat;
}

void ParamLayout::assign(const Tensor& flat, const NamedTensors& params) const {
  check_matches(params, "assign");
  if (flat.shape() != Shape{total_})
    throw std::invalid_argument(fmt::format("assign: vector {} for {} parameters", shape_str(flat.shape()), total_));
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i].second;
    kernel::reshape(p, {-1}).copy_(kernel::narrow(flat, 0, offsets_[i], numel(static_cast<int64_t>(i))));
  }
}

Tensor ParamLayout::segment(const Tensor& flat, int64_t i) const {
  return kernel::narrow(flat, -1, offsets_[i], numel(i));
}

void ParamLayout::check_matches(const NamedTensors& params, const std::string& what) const {
  bool ok = params.size() == names_.size();
  for (size_t i = 0; ok && i < params.size(); ++i)
    ok = params[i].first == names_[i] && params[i].second.shape() == shapes_[i];
  if (!ok) {
    std::vector<std::string> got;
    for (const auto& [n, t] : params) got.push_back(n + shape_str(t.shape()));
    std::vector<std::string> want;
    for (size_t i = 0; i < names_.size(); ++i) want.push_back(names_[i] + shape_str(shapes_[i]));
    throw std::invalid_argument(fmt::format("{}: parameters [{}] do not match the tracked layout [{}]", what,
                                            fmt::join(got, ", "), fmt::join(want, ", ")));
  }
}

}  // namespace pathgrad::explaind
