// Lesson 2 exercises: the chain rule by hand, a new operation for the scalar Value class, and two
// new operations for pathgrad's engine (the worked example of docs/autograd.md).
// Reference solutions: solutions.cpp beside this file; tests: tests/course/test_02_autodiff.cpp.
#pragma once

#include "examples/course/02_autodiff/value.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::course {

// Exercise 2.1 — the chain rule by hand.
// For the neuron o = tanh(w1·x1 + w2·x2 + b) return do/dw1, do/dw2 and do/db, computed with
// plain doubles (no Value, no Tensor).
// Hint: with n = w1·x1 + w2·x2 + b, do/dn = 1 − tanh(n)², and dn/dw1 = x1.
struct NeuronGrads {
  double w1, w2, b;
};
NeuronGrads neuron_grads_by_hand(double x1, double x2, double w1, double w2, double b);

// Exercise 2.2 — a new operation for Value: e^a.
// Return a Value whose data is exp(a.data()), with a as its only parent and the right local
// derivative. Hint: Value::make(data, {parents}, {local derivatives}); look at tanh in value.hpp.
Value exp(const Value& a);

// Exercise 2.3 — a new elementwise op for the engine: softplus(x) = log(1 + e^x).
// x: any shape, float32 or float64 -> the same shape. Compute it stably (no overflow for x = 800,
// no loss of the small value e^x for x = −800): softplus(x) = max(x, 0) + log1p(e^{−|x|}).
// Record it with pathgrad::record (autograd/engine.hpp) under the name "softplus" with the
// backward rule grad_x = grad_out ⊙ sigmoid(x). The closure must capture x detached.
// Hint: compute the forward with kernel:: functions or a loop over a contiguous copy; the
// backward with kernel::mul and kernel::sigmoid.
Tensor softplus(const Tensor& x);

// Exercise 2.4 — an op with a parameter, and its per-sample rule: a per-feature gain.
// y = x ⊙ gain with x [B, D] (a batch) and gain [D] (a parameter, broadcast over the batch) -> [B, D].
// Backward: grad_x = g ⊙ gain and grad_gain = Σ_b g[b] ⊙ x[b] ([D]). In per-sample mode
// (BackwardContext::per_sample, see autograd/node.hpp) a leaf gain must instead receive one gradient
// per sample, g ⊙ x as [B, D]; in contraction mode (ctx.contract()) it receives [B, K]: that
// per-sample gradient dotted with each of gain's K directions (ctx.directions_for(gain)).
// Under a path point (autograd/path_point.hpp) use path_value(gain, x, "feature_gain") in place of
// gain, as the library's ops do. Throw std::invalid_argument unless x is [B, D] and gain is [D].
// Hint: node.per_sample(1, ctx) says whether operand 1 wants per-sample gradients.
Tensor feature_gain(const Tensor& x, const Tensor& gain);

}  // namespace pathgrad::course
