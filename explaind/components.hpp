// Components: named groups of parameters whose influence is reported together (path-kernel.md
// §3) — a parameter tensor, a module, or a slice of a tensor such as one attention head.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "explaind/param_layout.hpp"

namespace pathgrad::explaind {

// A whole parameter tensor (length == 0) or the index range [start, start + length) of one of
// its dims (e.g. the rows of one attention head in a projection weight).
struct ParamSlice {
  std::string param;
  int64_t dim = 0;
  int64_t start = 0;
  int64_t length = 0;  // 0: the whole tensor
  bool whole() const { return length == 0; }
};

struct Component {
  std::string name;
  std::vector<ParamSlice> parts;
};

// One component per parameter tensor (named like the tensor) and one per module that owns more
// than one tensor (named by the module's dotted prefix followed by ".*", e.g. "mlp.fc1.*").
std::vector<Component> default_components(const ParamLayout& layout);

// A component resolved against a layout: its flat index ranges [begin, end) within θ, and the
// 0/1 mask of each slice part (whole tensors need none).
struct ResolvedComponent {
  std::string name;
  std::vector<std::pair<int64_t, int64_t>> ranges;  // flat, sorted, disjoint
  std::vector<int64_t> whole_params;                // parameter indices used entirely
  std::vector<std::pair<int64_t, Tensor>> slices;   // (parameter index, float64 mask of its shape)
  int64_t size() const;                             // number of parameters covered
};

// Validates (names exist, dims/ranges in bounds, no part listed twice) and resolves.
// Throws std::invalid_argument naming the component and the problem.
ResolvedComponent resolve(const Component& c, const ParamLayout& layout);

}  // namespace pathgrad::explaind
