// Active fractions: the backward rule of ReLU units and max-pool windows that switch within a
// piece of a straight path in parameter space (path-kernel.md §4d).
//
// Along θ(t) = θ_s + tΔθ a unit whose pre-activation z changes sign at t* inside a piece [a, b]
// makes ∇F jump there, and a quadrature rule on the piece errs by about the jump times the piece's
// width. Replacing that unit's 0/1 derivative, at every node of the piece, by the fraction of the
// piece during which it is active — z linear in between: (z_a⁺ + z_b⁺) / (|z_a| + |z_b|) — adds to
// the rule exactly the first-order correction Σ_u (jump_u)·(its missing share of the piece): the
// error falls from O(h) to O(h²) in the piece width. A max-pool window whose maximum moves from
// position i to position j inside the piece likewise sends its gradient to i for the fraction of the
// piece before the two values cross (linear in between) and to j for the rest.
//
//   KinkRecorder ends;      ... forward at a and b ...      (autograd/path_point.hpp)
//   ActiveFractions f(relu_fractions(za, zb) per relu call, pool_route(pa, pb) per pool call);
//   ... forward and backward at the piece's nodes: relu and the max-pools use the fractions ...
#pragma once

#include <vector>

#include "autograd/path_point.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad {

// How a max-pool's gradient is routed within a piece: the share `share` of each window's gradient
// goes to the input position `first`, the rest to `second` (positions in the input plane, as
// kernel::PoolResult::indices; first == second for a window whose maximum stays put).
struct PoolRoute {
  Tensor first, second;  // int64 [R, C, OH, OW]
  Tensor share;          // [R, C, OH, OW], in [0, 1], in the input's dtype
};

// Per unit of a relu call's pre-activation at a piece's ends za, zb (same shape): the unit's
// active fraction where its sign differs between the ends, −1 elsewhere (keep the 0/1 derivative).
Tensor relu_fractions(const Tensor& za, const Tensor& zb);
// The route of a max-pool call from its input and chosen positions at a piece's two ends.
PoolRoute pool_route(const KinkRecorder::Pool& a, const KinkRecorder::Pool& b);

// Every relu call's fractions and every max-pool call's route for R rows whose pieces end at rows
// ia[r] and ib[r] (int64 [R]) of the forward passes `relu` (pre-activations) and `pools` recorded
// at the pieces' ends (KinkRecorder::preactivations() and pools()).
struct PieceFractions {
  std::vector<Tensor> relu;
  std::vector<PoolRoute> pools;
};
PieceFractions fractions_between(const std::vector<Tensor>& relu, const std::vector<KinkRecorder::Pool>& pools,
                                 const Tensor& ia, const Tensor& ib);

// While alive in a thread, the i-th relu call (in forward order, counted from construction) uses
// relu[i] (see relu_fractions; undefined: unchanged) in its backward pass, and the i-th max-pool
// call uses pools[i] (first undefined: unchanged). Calls beyond the vectors are unchanged.
class ActiveFractions {
 public:
  ActiveFractions(std::vector<Tensor> relu, std::vector<PoolRoute> pools);
  ~ActiveFractions();
  ActiveFractions(const ActiveFractions&) = delete;
  ActiveFractions& operator=(const ActiveFractions&) = delete;

  // Called by relu's forward: this call's fractions (undefined without an override). Throws when
  // they do not have the pre-activation's shape and dtype.
  static Tensor next_relu(const Tensor& preactivation);
  // relu's input gradient from its output gradient: grad times the fractions where they are >= 0
  // and times the 0/1 step of z elsewhere; without fractions, kernel::relu_backward (one pass).
  static Tensor relu_backward(const Tensor& grad, const Tensor& z, const Tensor& fractions);
  // Called by a max-pool's forward with its chosen positions: this call's route (first undefined
  // without an override). Throws when the route's shape differs.
  static PoolRoute next_pool(const Tensor& indices);
  // The pool's input gradient [x_shape] from its output gradient, by the route or, without one, by
  // the chosen positions.
  static Tensor pool_backward(const Tensor& grad, const Tensor& indices, const Shape& x_shape, const PoolRoute& route);

 private:
  std::vector<Tensor> relu_;
  std::vector<PoolRoute> pools_;
  size_t next_relu_ = 0, next_pool_ = 0;
};

}  // namespace pathgrad
