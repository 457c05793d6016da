// Per-sample rules: what per_sample_grad and per_sample_grad_dot (autograd/engine.hpp) ask of the
// operations where a parameter enters them; every other operation runs its ordinary rule only.
// The samples are kept apart in one of two ways:
// - a broadcasting elementwise op (add, mul, ..., expand) reduces each operand's gradient with
//   unbroadcast, which keeps dim 0 (the rows) for a requested parameter;
// - an operation that takes a parameter as a whole operand (linear, matmul, embedding, conv2d)
//   attaches a ParamRule (autograd/node.hpp) to that slot, which param_gradient dispatches.
// Rows and samples: the pass's tensors have ctx.rows rows along dim 0 and rows / batch consecutive
// rows form a sample (BackwardContext in node.hpp). In contraction mode every rule returns
// [B, K] (the per-sample gradients dotted with the leaf's K directions).
#pragma once

#include "autograd/node.hpp"
#include "tensor/kernels.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad {

// The gradient of operand i of a broadcasting op from g, its gradient at the output's shape:
// summed over the broadcast dims (kernel::sum_to); for a requested parameter in a per-sample pass
// [B, ...shape] instead (g's rows kept, each sample's rows summed), or [B, K] in contraction mode.
// Throws std::invalid_argument naming the op when g's dim 0 is not the pass's rows.
Tensor unbroadcast(const Tensor& g, const Node& node, size_t i, const BackwardContext& ctx);

// A requested parameter's gradient from its ParamRule: rule.per_sample(g, ctx) [B, ...shape], or in
// contraction mode [B, K], column k each sample's sum of g * tangent(direction k).
Tensor param_gradient(const ParamRule& rule, const Tensor& leaf, const Tensor& g, const BackwardContext& ctx);

// ---- the ParamRules of the layer primitives (autograd/ops.hpp) ----
// `along` is the op's tangent for that operand, the same function its path point uses
// (autograd/path_rules.hpp).
// y = x Wᵀ + b, x [B, ..., in]: weight [out, in] (along D: x Dᵀ) and bias [out] (along d: d).
// Under a path point that moves W by `delta`, `delta_tangent` is x ΔWᵀ as the shift computed it:
// the contraction of the direction ΔW itself (the same tensor) reuses it instead of a product.
ParamRule linear_weight_rule(const Tensor& x, ParamRule::Tangent along, const Tensor& delta = Tensor(),
                             const Tensor& delta_tangent = Tensor());
ParamRule linear_bias_rule(const Tensor& x, ParamRule::Tangent along);
// y = a @ b, a [B, ..., n, k], b a parameter [k, m] (along D: a @ D).
ParamRule matmul_right_rule(const Tensor& a, const Tensor& b, ParamRule::Tangent along);
// y = W[index], W [V, D], index int64 [B, ...] (along D: D[index]).
ParamRule embedding_rule(const Tensor& index, int64_t rows, ParamRule::Tangent along);
// conv2d of x [N, C, H, W]: weight [O, C, kh, kw] (its tangent is one GEMM over x's im2col
// columns, built once per backward call) and bias [O] (along d: d [O, 1, 1]).
ParamRule conv2d_weight_rule(const Tensor& x, const kernel::Conv2dGeometry& geo, const Shape& weight_shape);
ParamRule conv2d_bias_rule(const Tensor& x, ParamRule::Tangent along);

}  // namespace pathgrad
