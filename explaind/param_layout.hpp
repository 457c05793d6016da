// The flat view of a model's parameters that explaind works in: every parameter tensor is a
// contiguous segment [offset, offset + numel) of one vector θ ∈ R^P, in the optimizer's order.
#pragma once

#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad::explaind {

class ParamLayout {
 public:
  ParamLayout() = default;
  explicit ParamLayout(const NamedTensors& params);

  int64_t size() const { return total_; }  // P
  int64_t count() const { return static_cast<int64_t>(names_.size()); }
  const std::string& name(int64_t i) const { return names_[i]; }
  const Shape& shape(int64_t i) const { return shapes_[i]; }
  int64_t offset(int64_t i) const { return offsets_[i]; }
  int64_t numel(int64_t i) const { return pathgrad::numel(shapes_[i]); }
  // Index of the parameter called `name`; throws std::invalid_argument listing the names.
  int64_t index(const std::string& name) const;
  const std::vector<std::string>& names() const { return names_; }

  // θ as float64 [P] (a fresh copy).
  Tensor flatten(const NamedTensors& params) const;
  // Writes the float64 vector `flat` [P] into `params` (converted to each parameter's dtype).
  void assign(const Tensor& flat, const NamedTensors& params) const;
  // Segment i of a [.., P] tensor's last dim, as a view [.., numel(i)].
  Tensor segment(const Tensor& flat, int64_t i) const;
  // Throws std::invalid_argument unless `params` has exactly these names and shapes.
  void check_matches(const NamedTensors& params, const std::string& what) const;

 private:
  std::vector<std::string> names_;
  std::vector<Shape> shapes_;
  std::vector<int64_t> offsets_;
  int64_t total_ = 0;
};

}  // namespace pathgrad::explaind
