// Path-point rules: how the operations meet the tools of exact path integrals (path-kernel.md §4),
// in one place. A PathPointGuard (autograd/path_point.hpp) evaluates row r of a batch with
// W + t[r]·ΔW for its parameters; a KinkRecorder records where the integrand has kinks; an
// ActiveFractions (autograd/active_fractions.hpp) replaces the 0/1 derivative of units that switch
// within a piece of the path.
// - An operation with parameter operands (linear, matmul, embedding, conv2d) is linear in each of
//   them: it moves its output with shift_to_path_point, y + t ⊙ tangent(ΔW) (two products, no
//   per-row weight copies), and its other operand's gradient with PathShift::input_grad. Its
//   gradients with respect to the parameters need no change: they are those at each row's point.
// - Broadcasting elementwise ops take their operands through path_value (path_point.hpp).
// - relu's and the max-pools' input gradients come from relu_gradient and max_pool_gradient.
#pragma once

#include <functional>
#include <vector>

#include "autograd/node.hpp"
#include "tensor/kernels.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad {

// Where an operation with parameter operands stands under the active path point.
struct PathShift {
  Tensor t;                    // [R, 1, ..., 1] against the output; undefined when no parameter moves
  std::vector<Tensor> deltas;  // ΔW per parameter operand, undefined where it does not move
  // along[p](ΔW_p) as the shift computed it, undefined where p does not move: the contraction of a
  // direction that is ΔW_p itself reuses it (linear_weight_rule).
  std::vector<Tensor> tangents;

  bool moves(size_t p) const { return p < deltas.size() && deltas[p].defined(); }
  // The gradient of the op's other operand at the point, from `rule(g, W)`, that gradient at
  // parameter p = W (linear in g and in W): rule(g, W) + rule(g ⊙ t, ΔW_p), each rounded on its own.
  template <class Rule>
  Tensor input_grad(Rule rule, const Tensor& g, const Tensor& w, size_t p) const {
    Tensor r = rule(g, w);
    if (moves(p)) kernel::add_(r, rule(kernel::mul(g, t), deltas[p]));
    return r;
  }
};

// Moves y [R, ...], the op's output at its parameters, to each row's point: y += t ⊙ along[p](ΔW_p)
// for every parameter p (in order) the active path point moves, along[p] the output's change along
// a direction of parameter p. Returns the shift (empty off a path point or when none moves).
// Throws std::invalid_argument naming `op` when y does not have the path point's R rows.
PathShift shift_to_path_point(Tensor& y, const char* op, const std::vector<Tensor>& params,
                              const std::vector<ParamRule::Tangent>& along);

// matmul meets a path point only with a moved parameter as its 2-D right operand: throws
// std::invalid_argument otherwise.
void check_matmul_path(const Tensor& a, const Tensor& b);

// relu's input gradient from its output gradient, for its backward: where its input z > 0 or,
// under a live ActiveFractions, times this call's active fractions. Records z for a live
// KinkRecorder.
std::function<Tensor(const Tensor& g)> relu_gradient(const Tensor& z);

// A max-pool's input gradient [x's shape] from its output gradient, for its backward: to each
// window's maximum (`indices`, kernel::PoolResult) or, under a live ActiveFractions, along this
// call's route. Records x and the indices for a live KinkRecorder.
std::function<Tensor(const Tensor& g)> max_pool_gradient(const Tensor& x, const Tensor& indices);

}  // namespace pathgrad
