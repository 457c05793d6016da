// nn::Module: registration, recursive listings, modes, state dicts, dtype conversion, printing.
#include "nn/module.hpp"

#include <cxxabi.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <map>
#include <ostream>
#include <stdexcept>
#include <typeinfo>
#include <unordered_set>

namespace pathgrad::nn {

Tensor Module::forward(const Tensor&) {
  throw std::logic_error(fmt::format(
      "{}: this module has no forward(const Tensor&); call the forward it declares for its inputs", name()));
}

void Module::check_new_name(const std::string& name, const char* what) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw std::invalid_argument(
        fmt::format("{}.{}: name '{}' must be non-empty and contain no '.'", this->name(), what, name));
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  if (taken(parameters_) || taken(buffers_) || taken(children_))
    throw std::invalid_argument(fmt::format("{}.{}: name '{}' is already taken", this->name(), what, name));
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor) {
  check_new_name(name, "register_parameter");
  if (!tensor.defined() || !tensor.is_floating_point() || !tensor.is_leaf())
    throw std::invalid_argument(fmt::format(
        "{}.register_parameter('{}'): expected a defined float32/float64 leaf tensor, got {}", this->name(), name,
        !tensor.defined() ? std::string("an undefined tensor")
                          : fmt::format("{} {}{}", dtype_name(tensor.dtype()), shape_str(tensor.shape()),
                                        tensor.is_leaf() ? "" : " (the result of an operation)")));
  tensor.set_requires_grad(true);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name, "register_buffer");
  if (!tensor.defined())
    throw std::invalid_argument(fmt::format("{}.register_buffer('{}'): undefined tensor", this->name(), name));
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name, "register_module");
  if (!child) throw std::invalid_argument(fmt::format("{}.register_module('{}'): null module", this->name(), name));
  if (child.get() == this)
    throw std::invalid_argument(
        fmt::format("{}.register_module('{}'): a module cannot be its own child", this->name(), name));
  children_.emplace_back(name, std::move(child));
}

void Module::collect(const std::string& prefix, int kinds, NamedTensors& out) const {
  if (kinds & kParameters)
    for (const auto& [n, t] : parameters_) out.emplace_back(prefix + n, t);
  if (kinds & kBuffers)
    for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, child] : children_) child->collect(prefix + n + ".", kinds, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors all, unique;
  collect("", kParameters, all);
  std::unordered_set<const TensorImpl*> seen;
  for (auto& entry : all)
    if (seen.insert(&entry.second.impl()).second) unique.push_back(std::move(entry));
  return unique;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& entry : named_parameters()) out.push_back(entry.second);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", kBuffers, out);
  return out;
}

NamedModules Module::named_children() const { return children_; }

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& entry : children_) out.push_back(entry.second);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& entry : named_parameters()) n += entry.second.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& entry : children_) entry.second->train(on);
}

void Module::zero_grad() {
  for (const auto& entry : named_parameters()) entry.second.set_grad(Tensor());
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", kParameters | kBuffers, out);
  for (auto& entry : out) entry.second = entry.second.detach();
  return out;
}

void Module::load_state_dict(const NamedTensors& state, bool strict) {
  NamedTensors own;
  collect("", kParameters | kBuffers, own);
  std::map<std::string, const Tensor*> given;
  std::vector<std::string> problems, duplicates, unexpected, missing;
  for (const auto& [n, t] : state)
    if (!given.emplace(n, &t).second) duplicates.push_back(n);
  std::unordered_set<std::string> known;
  for (const auto& [n, t] : own) {
    known.insert(n);
    auto it = given.find(n);
    if (it == given.end()) {
      missing.push_back(n);
      continue;
    }
    const Tensor& src = *it->second;
    if (!src.defined())
      problems.push_back(fmt::format("'{}' is undefined", n));
    else if (src.shape() != t.shape() || src.dtype() != t.dtype())
      problems.push_back(fmt::format("'{}' is {} {}, the module has {} {}", n, dtype_name(src.dtype()),
                                     shape_str(src.shape()), dtype_name(t.dtype()), shape_str(t.shape())));
  }
  for (const auto& [n, t] : state)
    if (!known.count(n)) unexpected.push_back(n);
  if (!duplicates.empty()) problems.push_back(fmt::format("duplicate keys [{}]", fmt::join(duplicates, ", ")));
  if (strict && !missing.empty()) problems.push_back(fmt::format("missing keys [{}]", fmt::join(missing, ", ")));
  if (strict && !unexpected.empty())
    problems.push_back(fmt::format("unexpected keys [{}]", fmt::join(unexpected, ", ")));
  if (!problems.empty())
    throw std::invalid_argument(fmt::format("{}.load_state_dict: {}", name(), fmt::join(problems, "; ")));
  for (const auto& [n, t] : own) {
    auto it = given.find(n);
    if (it != given.end()) t.copy_(*it->second);
  }
}

void Module::to(DType dtype) {
  if (!is_floating_point(dtype)) throw_dtype_error(name() + ".to", dtype, "float32 or float64");
  NamedTensors own;
  collect("", kParameters | kBuffers, own);
  for (const auto& entry : own) {
    TensorImpl& impl = entry.second.impl();
    if (!is_floating_point(impl.dtype) || impl.dtype == dtype) continue;  // also skips a shared one seen before
    const Tensor converted = entry.second.to(dtype);                      // fresh and contiguous
    impl.storage = converted.storage();
    impl.offset = 0;
    impl.strides = converted.strides();
    impl.dtype = dtype;
    impl.grad = nullptr;
  }
}

std::string Module::name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string full = status == 0 && demangled ? demangled : mangled;
  std::free(demangled);
  // Drop the namespaces of the type itself (not of template arguments).
  const size_t end = full.find('<');
  const size_t colon = full.rfind("::", end == std::string::npos ? std::string::npos : end);
  return colon == std::string::npos ? full : full.substr(colon + 2);
}

std::string Module::to_string(int indent) const {
  std::string out = name() + "(" + extra_repr();
  if (children_.empty()) return out + ")";
  const std::string pad(static_cast<size_t>(indent + 2), ' ');
  out += "\n";
  for (const auto& [n, child] : children_) out += fmt::format("{}({}): {}\n", pad, n, child->to_string(indent + 2));
  return out + std::string(static_cast<size_t>(indent), ' ') + ")";
}

std::string Module::to_string() const { return to_string(0); }

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.to_string(); }

}  // namespace pathgrad::nn
