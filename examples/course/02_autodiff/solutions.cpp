// Lesson 2 reference solutions (exercises.hpp). softplus and feature_gain are the worked example
// of docs/autograd.md (how to add an operation to the engine), which shows the lines between its
// two markers word for word (tests/course/test_02_autodiff.cpp keeps them the same).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "autograd/engine.hpp"
#include "autograd/path_point.hpp"
#include "examples/course/02_autodiff/exercises.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::course {

NeuronGrads neuron_grads_by_hand(double x1, double x2, double w1, double w2, double b) {
  const double n = w1 * x1 + w2 * x2 + b;
  const double do_dn = 1.0 - std::tanh(n) * std::tanh(n);  // tanh' = 1 − tanh²
  return {do_dn * x1, do_dn * x2, do_dn * 1.0};            // dn/dw1 = x1, dn/dw2 = x2, dn/db = 1
}

Value exp(const Value& a) {
  const double e = std::exp(a.data());
  return Value::make(e, {a}, {e});  // (e^a)' = e^a
}

// docs/autograd.md begin
namespace {

// softplus(x) = max(x, 0) + log1p(e^−|x|): no overflow, and e^x kept for very negative x.
Tensor softplus_values(const Tensor& x) {
  const Tensor in = x.contiguous();
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  dispatch_float(in.dtype(), "softplus", [&](auto tag) {
    using T = decltype(tag);
    const T* p = in.data<T>();
    T* q = out.data<T>();
    for (int64_t i = 0; i < in.numel(); ++i) q[i] = std::max(p[i], T(0)) + std::log1p(std::exp(-std::abs(p[i])));
  });
  return out;
}

}  // namespace

Tensor softplus(const Tensor& x) {
  // The closure keeps x's values (detached: no reference back into the graph) for the backward.
  return record(softplus_values(x), "softplus", {x},
                [x = x.detach()](const Node&, const Tensor& g, const BackwardContext&) {
                  return std::vector<Tensor>{kernel::mul(g, kernel::sigmoid(x))};  // d softplus / dx = sigmoid(x)
                });
}

namespace {

// The gain's gradient from the per-row products g ⊙ x [rows, D]: summed over the batch ([D]),
// kept per sample ([B, D]: a sample's rows summed), or per sample dotted with each direction ([B, K]).
Tensor gain_grad(const Node& node, const Tensor& per_row, const BackwardContext& ctx) {
  if (!node.per_sample(1, ctx)) return kernel::sum(per_row, {0});
  if (per_row.size(0) != ctx.rows)
    throw std::invalid_argument("per_sample_grad: feature_gain's input has no batch dim of the rows");
  const Tensor per_sample = ctx.sum_rows(per_row);  // [B, D]
  if (!ctx.contract()) return per_sample;
  std::vector<Tensor> columns;  // K tensors [B]
  for (const Tensor& d : ctx.directions_for(node.inputs[1])) columns.push_back(kernel::matmul(per_sample, d));
  if (columns.empty()) return Tensor::zeros({ctx.batch, 0}, per_sample.dtype());
  return kernel::stack(columns, 1);
}

}  // namespace

Tensor feature_gain(const Tensor& x, const Tensor& gain) {
  if (x.dim() != 2 || gain.shape() != Shape{x.size(1)})
    throw std::invalid_argument("feature_gain: expected x [B, D] and gain [D], got " + shape_str(x.shape()) + " and " +
                                shape_str(gain.shape()));
  // gain itself, or under a path point each row's gain + t[r]·Δgain as [B, D].
  const Tensor gain_used = path_value(gain, x, "feature_gain");
  return record(
      kernel::mul(x, gain_used), "feature_gain", {x, gain},
      [x = x.detach(), gain_used = gain_used.detach()](const Node& node, const Tensor& g, const BackwardContext& ctx) {
        std::vector<Tensor> grads(2);                                           // one per operand
        if (node.needs(0)) grads[0] = kernel::mul(g, gain_used);                // [B, D]
        if (node.needs(1)) grads[1] = gain_grad(node, kernel::mul(g, x), ctx);  // see gain_grad
        return grads;
      });
}
// docs/autograd.md end

}  // namespace pathgrad::course
