// Default components (per tensor, per module) and their resolution into flat index ranges.
#include "explaind/components.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "tensor/kernels.hpp"

namespace pathgrad::explaind {

std::vector<Component> default_components(const ParamLayout& layout) {
  std::vector<Component> out;
  std::map<std::string, std::vector<std::string>> modules;
  std::vector<std::string> module_order;
  for (const std::string& name : layout.names()) {
    out.push_back({name, {{name}}});
    const auto dot = name.rfind('.');
    if (dot == std::string::npos) continue;
    const std::string module = name.substr(0, dot);
    if (!modules.count(module)) module_order.push_back(module);
    modules[module].push_back(name);
  }
  for (const std::string& m : module_order) {
    if (modules[m].size() < 2) continue;
    Component c{m + ".*", {}};
    for (const std::string& p : modules[m]) c.parts.push_back({p});
    out.push_back(c);
  }
  return out;
}

int64_t ResolvedComponent::size() const {
  int64_t n = 0;
  for (const auto& [b, e] : ranges) n += e - b;
  return n;
}

ResolvedComponent resolve(const Component& c, const ParamLayout& layout) {
  if (c.parts.empty()) throw std::invalid_argument(fmt::format("component '{}' has no parts", c.name));
  ResolvedComponent r;
  r.name = c.name;
  for (const ParamSlice& part : c.parts) {
    const int64_t p = layout.index(part.param);
    const Shape& shape = layout.shape(p);
    const int64_t offset = layout.offset(p);
    if (part.whole()) {
      r.whole_params.push_back(p);
      r.ranges.emplace_back(offset, offset + layout.numel(p));
      continue;
    }
    if (part.dim < 0 || part.dim >= static_cast<int64_t>(shape.size()) || part.start < 0 || part.length < 0 ||
        part.start + part.length > shape[part.dim])
      throw std::invalid_argument(fmt::format("component '{}': slice dim {} [{}, {}) is out of range for {} {}", c.name,
                                              part.dim, part.start, part.start + part.length, part.param,
                                              shape_str(shape)));
    Tensor mask = Tensor::zeros(shape, DType::Float64);
    kernel::narrow(mask, part.dim, part.start, part.length).fill_(1.0);
    // Flat ranges: the slice is a set of runs of `inner * length` elements.
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < part.dim; ++d) outer *= shape[d];
    for (size_t d = static_cast<size_t>(part.dim) + 1; d < shape.size(); ++d) inner *= shape[d];
    for (int64_t o = 0; o < outer; ++o) {
      const int64_t begin = offset + (o * shape[part.dim] + part.start) * inner;
      r.ranges.emplace_back(begin, begin + part.length * inner);
    }
    r.slices.emplace_back(p, mask);
  }
  std::sort(r.ranges.begin(), r.ranges.end());
  for (size_t i = 1; i < r.ranges.size(); ++i)
    if (r.ranges[i].first < r.ranges[i - 1].second)
      throw std::invalid_argument(fmt::format("component '{}' lists some parameters twice", c.name));
  // Merge adjacent ranges (fewer, larger products later).
  std::vector<std::pair<int64_t, int64_t>> merged;
  for (const auto& rg : r.ranges) {
    if (!merged.empty() && merged.back().second == rg.first)
      merged.back().second = rg.second;
    else
      merged.push_back(rg);
  }
  r.ranges = std::move(merged);
  return r;
}

}  // namespace pathgrad::explaind
