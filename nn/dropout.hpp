// nn::Dropout: in training mode zeroes each element with probability p and scales the rest by
// 1/(1-p); in eval mode the identity.
#pragma once

#include <string>

#include "nn/module.hpp"
#include "nn/options.hpp"
#include "tensor/random.hpp"

namespace pathgrad::nn {

struct DropoutOptions {
  explicit DropoutOptions(double p = 0.5) : p_(p) {}
  PATHGRAD_ARG(double, p);  // drop probability, in [0, 1]
  // Generator of the masks; null means nn::default_generator() at each forward. A given
  // generator must outlive the layer.
  PATHGRAD_ARG(Generator*, generator) = nullptr;
};

// Training mode: y = x * m with m_j = 1/(1-p) where u_j >= p and 0 where u_j < p, one uniform draw
// u_j per element of x in row-major order (m = 0 everywhere when p = 1). The mask m is a constant
// of the graph: gradients flow through the kept elements, scaled by 1/(1-p), so per-sample
// gradients and the path kernel see the mask that produced the loss. p = 0 and eval mode return
// x itself and draw nothing.
class Dropout : public Module {
 public:
  explicit Dropout(const DropoutOptions& options);
  explicit Dropout(double p = 0.5) : Dropout(DropoutOptions(p)) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  DropoutOptions options_;
};

}  // namespace pathgrad::nn
