// A node of the autograd graph: the operation that produced a tensor, its differentiable inputs,
// the closure that maps the output's gradient to the inputs' gradients (the ordinary rule), and
// for operands that can be parameters the per-sample rules (ParamRule) of per_sample_grad.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad {

// What the engine asks of a backward closure beyond the output gradient.
struct BackwardContext {
  // Per-sample mode (see per_sample_grad in engine.hpp): every leaf input must receive one
  // gradient per sample, stacked along a new dim 0 of size `batch`: [batch, ...leaf shape].
  // The tensors of the pass have `rows` rows along dim 0; rows / batch consecutive rows form one
  // sample, whose gradient is the sum of its rows' (rows == batch: one row per sample).
  // Non-leaf inputs receive ordinary gradients.
  bool per_sample = false;
  int64_t batch = 0, rows = 0;
  // The leaves asked for in per-sample mode; other leaves get ordinary gradients.
  const std::unordered_set<TensorImpl*>* per_sample_leaves = nullptr;
  // Contraction mode (per_sample_grad_dot): a leaf operand instead receives [batch, K], its
  // per-sample gradients dotted with each of the K direction tensors given for that leaf.
  const std::unordered_map<const TensorImpl*, std::vector<Tensor>>* directions = nullptr;

  bool contract() const { return directions != nullptr; }
  // [rows, ...] -> [batch, ...]: each sample's consecutive rows summed (t itself when every
  // sample is one row). A per-sample rule that forms per-row gradients returns them through this.
  Tensor sum_rows(const Tensor& t) const;
  // The directions of a leaf in contraction mode (empty if it has none).
  const std::vector<Tensor>& directions_for(const Tensor& leaf) const;
};

// What an operation adds for an operand that can be a parameter, so that per_sample_grad and
// per_sample_grad_dot keep the samples apart where the parameter enters (the engine asks it instead
// of the ordinary rule for a requested parameter; autograd/per_sample_rules.hpp dispatches).
struct ParamRule {
  // The output's change along a direction d of the operand (the output's shape; every operation
  // with a ParamRule is linear in that operand).
  using Tangent = std::function<Tensor(const Tensor& d)>;
  // g [rows, ...] (the output's gradient) -> [ctx.batch, ...operand shape]: each sample's
  // gradient, its rows summed (ctx.sum_rows).
  std::function<Tensor(const Tensor& g, const BackwardContext& ctx)> per_sample;
  // Contraction mode: made once per backward call (a rule prepares there what all directions
  // share), then called per direction d; sample b's gradient . d = sum over b's entries of
  // g * tangent(d). Both functions throw std::invalid_argument when the batch is not ctx.rows.
  std::function<Tangent(const BackwardContext& ctx)> tangent;
  // Optional, contraction mode: sample b's gradient . d straight from g ([ctx.batch]), for a rule
  // that does it with less work than g * tangent(d) summed (linear: only the block of d that is
  // not zero, e.g. one attention head's rows). Equal to that sum; called instead of it when set.
  std::function<Tensor(const Tensor& g, const Tensor& d, const BackwardContext& ctx)> dot;
};

struct Node {
  // (this node, gradient of the result, context) -> one gradient per operand slot.
  using BackwardFn =
      std::function<std::vector<Tensor>(const Node& self, const Tensor& grad_out, const BackwardContext& ctx)>;

  std::string name;                    // the operation, for error messages ("matmul", "linear", ...)
  std::vector<Tensor> inputs;          // one slot per operand; undefined where no gradient is needed
  BackwardFn backward;                 // returns one gradient per slot (undefined allowed where unused)
  std::vector<ParamRule> param_rules;  // per slot; none (or an empty rule) where it has no such rule
  bool released = false;               // set once backward ran without retain_graph

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Releases the graph below this node iteratively: a chain of a million operations is freed
  // without a million nested destructor calls (which would overflow the stack).
  // Backward closures must capture detached tensors only (see autograd/ops.cpp), so that the
  // graph is reachable through `inputs` alone.
  ~Node();

  // True when operand i needs a gradient from the ordinary rule. (In a per-sample pass the engine
  // empties, for the call, the slots of the parameters it asks their ParamRule about instead.)
  bool needs(size_t i) const { return i < inputs.size() && inputs[i].defined(); }
  // True when operand i must get a per-sample gradient [B, ...] in this backward pass.
  bool per_sample(size_t i, const BackwardContext& ctx) const {
    return ctx.per_sample && needs(i) && inputs[i].is_leaf() &&
           (!ctx.per_sample_leaves || ctx.per_sample_leaves->count(inputs[i].impl_ptr().get()));
  }
};

}  // namespace pathgrad
