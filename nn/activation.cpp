// nn::ReLU, nn::LogSoftmax, nn::Flatten.
#include "nn/activation.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"

namespace pathgrad::nn {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Tensor LogSoftmax::forward(const Tensor& x) { return log_softmax(x, dim_); }
std::string LogSoftmax::extra_repr() const { return fmt::format("dim={}", dim_); }

Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_dim_); }
std::string Flatten::extra_repr() const { return fmt::format("start_dim={}", start_dim_); }

}  // namespace pathgrad::nn
