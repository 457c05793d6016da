// A node of the autograd graph: the operation that produced a tensor, its differentiable inputs,
// and the closure that maps the output's gradient to the inputs' gradients.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad {

// What the engine asks of a backward closure beyond the output gradient.
struct BackwardContext {
  // Per-sample mode (see per_sample_grad in engine.hpp): every leaf input must receive one
  // gradient per sample, stacked along a new dim 0 of size `batch`: [batch, ...leaf shape].
  // Non-leaf inputs receive ordinary gradients.
  bool per_sample = false;
  int64_t batch = 0;
};

struct Node {
  // (this node, gradient of the result, context) -> one gradient per operand slot.
  using BackwardFn =
      std::function<std::vector<Tensor>(const Node& self, const Tensor& grad_out, const BackwardContext& ctx)>;

  std::string name;            // the operation, for error messages ("matmul", "linear", ...)
  std::vector<Tensor> inputs;  // one slot per operand; undefined where no gradient is needed
  BackwardFn backward;         // returns one gradient per slot (undefined allowed where unused)
  bool released = false;       // set once backward ran without retain_graph

  // True when operand i needs a gradient.
  bool needs(size_t i) const { return i < inputs.size() && inputs[i].defined(); }
  // True when operand i must get a per-sample gradient [B, ...] in this backward pass.
  bool per_sample(size_t i, const BackwardContext& ctx) const {
    return ctx.per_sample && needs(i) && inputs[i].is_leaf();
  }
};

}  // namespace pathgrad
