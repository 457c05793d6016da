// Path-point rules (see path_rules.hpp): the output shift of the ops with parameters, and the kink
// rules of relu and the max-pools.
#include "autograd/path_rules.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "autograd/active_fractions.hpp"
#include "autograd/path_point.hpp"

namespace pathgrad {
namespace K = kernel;

PathShift shift_to_path_point(Tensor& y, const char* op, const std::vector<Tensor>& params,
                              const std::vector<ParamRule::Tangent>& along) {
  if (!current_path_point()) return {};
  PathShift shift;
  bool any = false;
  for (const Tensor& p : params) {
    shift.deltas.push_back(path_delta(p));
    any = any || shift.deltas.back().defined();
  }
  if (!any) return {};
  shift.t = path_t_for(y, op);  // [R, 1, ..., 1]
  // y is the op's own fresh output: shifted in place, row r by t_r times the tangent, where the
  // tangent has y's shape or one row's (else by broadcasting, into a new tensor).
  y = y.contiguous();
  const Tensor t = K::reshape(shift.t, {y.size(0)});
  const Shape row(y.shape().begin() + 1, y.shape().end());
  shift.tangents.resize(params.size());
  for (size_t p = 0; p < params.size(); ++p) {
    if (!shift.moves(p)) continue;
    const Tensor& tangent = shift.tangents[p] = along[p](shift.deltas[p]);
    if (tangent.shape() == y.shape() || tangent.shape() == row)
      K::add_row_scaled_(y, t, tangent);
    else
      y = K::add(y, K::mul(shift.t, tangent));
  }
  return shift;
}

void check_matmul_path(const Tensor& a, const Tensor& b) {
  if (path_delta(a).defined() || (path_delta(b).defined() && (b.dim() != 2 || a.dim() < 2)))
    throw std::invalid_argument(
        fmt::format("matmul: under a path point the parameter must be the 2-D right operand; got {} @ {}",
                    shape_str(a.shape()), shape_str(b.shape())));
}

std::function<Tensor(const Tensor& g)> relu_gradient(const Tensor& z) {
  KinkRecorder::record(z);
  return [z = z.detach(), f = ActiveFractions::next_relu(z)](const Tensor& g) {
    return ActiveFractions::relu_backward(g, z, f);
  };
}

std::function<Tensor(const Tensor& g)> max_pool_gradient(const Tensor& x, const Tensor& indices) {
  KinkRecorder::record_pool(x, indices);
  return [indices, xs = x.shape(), route = ActiveFractions::next_pool(indices)](const Tensor& g) {
    return ActiveFractions::pool_backward(g, indices, xs, route);
  };
}

}  // namespace pathgrad
