// Active fractions of switching ReLU units and max-pool windows within a piece (thread-local
// override behind an RAII guard) and the rules that compute them.
#include "autograd/active_fractions.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "tensor/kernels.hpp"

namespace pathgrad {
namespace K = kernel;
namespace {
thread_local ActiveFractions* g_fractions = nullptr;

Tensor scalar(double v, DType dtype) { return Tensor::full({}, v, dtype); }

// The value at each window's chosen position: x [R, C, H, W], positions int64 [R, C, OH, OW].
Tensor at_positions(const Tensor& x, const Tensor& positions) {
  const Tensor plane = K::reshape(x.contiguous(), {x.size(0), x.size(1), -1});                        // [R, C, H·W]
  const Tensor idx = K::reshape(positions.contiguous(), {positions.size(0), positions.size(1), -1});  // [R, C, OH·OW]
  return K::reshape(K::gather(plane, 2, idx), positions.shape());
}
}  // namespace

Tensor relu_fractions(const Tensor& za, const Tensor& zb) {
  const DType dt = za.dtype();
  const Tensor zero = scalar(0.0, dt);
  const Tensor switches = K::ne(K::gt(za, zero), K::gt(zb, zero));
  // A switching unit has |za| + |zb| > 0; the floor only keeps the unused entries finite.
  const Tensor spread = K::maximum(K::add(K::abs(za), K::abs(zb)), scalar(1e-300, dt));
  const Tensor fraction = K::div(K::add(K::relu(za), K::relu(zb)), spread);
  return K::where(switches, fraction, scalar(-1.0, dt));
}

PoolRoute pool_route(const KinkRecorder::Pool& a, const KinkRecorder::Pool& b) {
  // d = x_first − x_second: >= 0 at a (first is a's maximum), <= 0 at b; linear in between, it
  // crosses zero at the share of the piece that belongs to `first`.
  const Tensor da = K::sub(at_positions(a.input, a.indices), at_positions(a.input, b.indices));
  const Tensor db = K::sub(at_positions(b.input, a.indices), at_positions(b.input, b.indices));
  const DType dt = da.dtype();
  const Tensor spread = K::sub(da, db);
  const Tensor moved = K::gt(spread, scalar(0.0, dt));
  const Tensor share = K::where(moved, K::div(da, K::maximum(spread, scalar(1e-300, dt))), scalar(1.0, dt));
  return {a.indices, b.indices, share};
}

PieceFractions fractions_between(const std::vector<Tensor>& relu, const std::vector<KinkRecorder::Pool>& pools,
                                 const Tensor& ia, const Tensor& ib) {
  PieceFractions out;
  for (const Tensor& z : relu)
    out.relu.push_back(relu_fractions(K::index_select(z, 0, ia), K::index_select(z, 0, ib)).contiguous());
  for (const KinkRecorder::Pool& p : pools)
    out.pools.push_back(pool_route({K::index_select(p.input, 0, ia), K::index_select(p.indices, 0, ia)},
                                   {K::index_select(p.input, 0, ib), K::index_select(p.indices, 0, ib)}));
  return out;
}

ActiveFractions::ActiveFractions(std::vector<Tensor> relu, std::vector<PoolRoute> pools)
    : relu_(std::move(relu)), pools_(std::move(pools)) {
  if (g_fractions) throw std::logic_error("ActiveFractions: another override is already active in this thread");
  g_fractions = this;
}

ActiveFractions::~ActiveFractions() { g_fractions = nullptr; }

Tensor ActiveFractions::next_relu(const Tensor& z) {
  if (!g_fractions || g_fractions->next_relu_ >= g_fractions->relu_.size()) return Tensor();
  const Tensor& f = g_fractions->relu_[g_fractions->next_relu_++];
  if (f.defined() && (f.shape() != z.shape() || f.dtype() != z.dtype()))
    throw std::invalid_argument(fmt::format("ActiveFractions: fractions {} {} for a relu input {} {}",
                                            dtype_name(f.dtype()), shape_str(f.shape()), dtype_name(z.dtype()),
                                            shape_str(z.shape())));
  return f;
}

Tensor ActiveFractions::relu_derivative(const Tensor& z, const Tensor& fractions) {
  const Tensor step = K::step(z);
  if (!fractions.defined()) return step;
  return K::where(K::ge(fractions, scalar(0.0, fractions.dtype())), fractions, step);
}

PoolRoute ActiveFractions::next_pool(const Tensor& indices) {
  if (!g_fractions || g_fractions->next_pool_ >= g_fractions->pools_.size()) return {};
  const PoolRoute& r = g_fractions->pools_[g_fractions->next_pool_++];
  if (r.first.defined() &&
      (r.first.shape() != indices.shape() || r.second.shape() != indices.shape() || r.share.shape() != indices.shape()))
    throw std::invalid_argument(fmt::format("ActiveFractions: a pool route {} for pooled output {}",
                                            shape_str(r.first.shape()), shape_str(indices.shape())));
  return r;
}

Tensor ActiveFractions::pool_backward(const Tensor& grad, const Tensor& indices, const Shape& x_shape,
                                      const PoolRoute& route) {
  if (!route.first.defined()) return K::max_pool2d_backward(grad, indices, x_shape);
  const Tensor share = route.share.to(grad.dtype());
  return K::add(K::max_pool2d_backward(K::mul(grad, share), route.first, x_shape),
                K::max_pool2d_backward(K::mul(grad, K::rsub_scalar(share, 1.0)), route.second, x_shape));
}

}  // namespace pathgrad
