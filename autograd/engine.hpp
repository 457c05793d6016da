// The reverse-mode engine: gradient mode, backward, functional gradients, per-sample gradients.
//
// Semantics (the same as PyTorch's where they overlap):
// - An operation records a Node when gradient mode is on and one of its operands requires grad;
//   its result then requires grad and is a non-leaf. Leaves are tensors created by the user and
//   marked with set_requires_grad(true) (parameters).
// - Tensor::backward(seed) / backward(outputs, seeds) *accumulate* into the .grad of every leaf
//   reached (call zero_grad between steps). The seed defaults to 1 for a one-element output and
//   is required otherwise.
// - Without retain_graph the graph's saved state is released after the pass; a second backward
//   through it throws std::logic_error. With retain_graph=true it can be run again.
// - grad(outputs, inputs, seeds) returns d(sum_k seeds_k . outputs_k)/d(inputs) without touching
//   any .grad; inputs may be leaves or intermediate tensors. Only the part of the graph that leads
//   to an input is evaluated.
// - The traversal is iterative (no recursion), so graphs of any depth work.
// - detach() and NoGradGuard stop recording.
#pragma once

#include <vector>

#include "autograd/node.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad {

// Is gradient recording on in this thread? (On by default.)
bool grad_enabled();

// Turns recording off for its lifetime (restoring the previous mode afterwards).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Accumulates d(sum_k seeds_k . outputs_k)/d(leaf) into every reachable leaf's .grad.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds = {}, bool retain_graph = false);

// Gradients of sum_k seeds_k . outputs_k with respect to `inputs`, without touching .grad.
// An input the outputs do not depend on gets a zero tensor (or throws unless allow_unused).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& seeds = {}, bool retain_graph = false, bool allow_unused = true);

// Per-sample gradients in one backward pass.
// `per_sample_losses` is [B]: the loss of each sample of a batch whose tensors all index samples
// along dim 0, with no interaction between samples (no batch statistics). For every parameter p
// (a leaf) the result is [B, ...p.shape]: row i is seeds[i] * d(loss_i)/dp (seeds default to 1).
// Every operation that consumes a parameter directly must have a per-sample rule (linear, matmul
// with the parameter on the right, embedding, conv2d, broadcasting elementwise ops); otherwise
// this throws std::invalid_argument naming the operation. Intermediate tensors are never [B, ...P]
// sized, so the memory is B * P for the result plus one ordinary backward pass; to bound it,
// call this on chunks of the batch.
// rows_per_sample > 1 groups the rows: rows i·n .. i·n + n − 1 (n = rows_per_sample, which must
// divide B) form sample i, and the result is [B / n, ...p.shape], row i the sum of its rows'
// seeded gradients, formed inside the per-sample rules (e.g. one product over all of a sample's
// rows) — never [B, ...p.shape]. This is how explaind sums a probe's quadrature nodes.
std::vector<Tensor> per_sample_grad(const Tensor& per_sample_losses, const std::vector<Tensor>& params,
                                    const Tensor& seeds = Tensor(), bool retain_graph = false,
                                    int64_t rows_per_sample = 1);

// Per-sample directional derivatives, without ever materialising [B, ...p.shape]: for parameter
// p with directions d_{p,1..K}, result p is [B, K] with entry (b, k) = seeds[b] *
// d(loss_b)/dp . d_{p,k}. Same requirements as per_sample_grad. Costs about one backward pass
// plus, per direction, one forward-sized product of each operation that consumes p. This is how
// explaind contracts probe gradients with parameter updates (path-kernel.md §3).
std::vector<Tensor> per_sample_grad_dot(const Tensor& per_sample_losses, const std::vector<Tensor>& params,
                                        const std::vector<std::vector<Tensor>>& directions,
                                        const Tensor& seeds = Tensor(), bool retain_graph = false);

// Creates the result of a differentiable operation: when recording is on and some operand
// requires grad, attaches a Node named `name` whose slots are the operands that require grad.
// Used by autograd/ops.cpp and by any user-defined operation. `fn` (the ordinary rule) and the
// `param_rules` (one per operand, or none: see ParamRule in node.hpp) must capture the values they
// need as detached tensors (Tensor::detach()), never a recorded tensor: the graph is then
// reachable through node inputs alone, holds no cycles, and is freed without recursion.
Tensor record(Tensor result, const char* name, const std::vector<Tensor>& operands, Node::BackwardFn fn,
              std::vector<ParamRule> param_rules = {});

}  // namespace pathgrad
