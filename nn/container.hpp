// Containers of modules: nn::Sequential (a chain) and nn::Residual (x + inner(x)).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.hpp"

namespace pathgrad::nn {

// Applies its modules in order: forward(x) = m_{n-1}(... m_1(m_0(x))). Children are named "0",
// "1", ... in insertion order, so parameters read "0.weight", "2.bias", ...; an empty Sequential
// is the identity.
class Sequential : public Module {
 public:
  Sequential() = default;
  // Sequential{std::make_shared<Linear>(4, 8), std::make_shared<ReLU>(), ...}
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  // Appends `module` as child "<size()>" and returns it (keeping its type).
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    register_module(std::to_string(modules_.size()), module);
    modules_.push_back(module);
    return module;
  }
  Tensor forward(const Tensor& x) override;
  std::size_t size() const { return modules_.size(); }
  // The i-th module; throws std::out_of_range naming i and size().
  std::shared_ptr<Module> operator[](std::size_t i) const;

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

// forward(x) = x + inner(x); inner must return x's shape (std::invalid_argument otherwise, naming
// the inner module and both shapes). The inner module is the child "inner".
class Residual : public Module {
 public:
  explicit Residual(std::shared_ptr<Module> inner);
  Tensor forward(const Tensor& x) override;
  const std::shared_ptr<Module>& inner() const { return inner_; }

 private:
  std::shared_ptr<Module> inner_;
};

}  // namespace pathgrad::nn
