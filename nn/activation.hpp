// Parameter-free elementwise and shape layers: nn::ReLU, nn::LogSoftmax, nn::Flatten.
#pragma once

#include <cstdint>
#include <string>

#include "nn/module.hpp"

namespace pathgrad::nn {

// max(x, 0), any shape. Gradient 1 where x > 0, else 0.
class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

// log(softmax(x)) along `dim` (default the last), computed stably; any shape.
class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim = -1) : dim_(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  int64_t dim_;
};

// Merges dims start_dim.. into one: [N, C, H, W] -> [N, C*H*W] with the default start_dim = 1.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1) : start_dim_(start_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  int64_t start_dim_;
};

}  // namespace pathgrad::nn
