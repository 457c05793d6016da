// nn::Sequential and nn::Residual.
#include "nn/container.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "autograd/ops.hpp"

namespace pathgrad::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& m : modules) push_back(m);
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& m : modules_) h = m->forward(h);
  return h;
}

std::shared_ptr<Module> Sequential::operator[](std::size_t i) const {
  if (i >= modules_.size())
    throw std::out_of_range(fmt::format("Sequential: index {} out of range for {} modules", i, modules_.size()));
  return modules_[i];
}

Residual::Residual(std::shared_ptr<Module> inner) : inner_(register_module("inner", std::move(inner))) {}

Tensor Residual::forward(const Tensor& x) {
  Tensor y = inner_->forward(x);
  if (y.shape() != x.shape())
    throw std::invalid_argument(fmt::format("Residual: inner module {} maps {} to {}; a residual needs the same shape",
                                            inner_->name(), shape_str(x.shape()), shape_str(y.shape())));
  return x + y;
}

}  // namespace pathgrad::nn
