// Active fractions of switching ReLU units and max-pool windows within a piece (thread-local
// override behind an RAII guard) and the rules that compute them.
#include "autograd/active_fractions.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

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

// One unit's fraction (relu_fractions): its active share if its sign differs at the two ends, −1
// otherwise. A switching unit has |za| + |zb| > 0; the floor only keeps the others finite.
template <class T>
T fraction_of(T za, T zb) {
  if ((za > 0) == (zb > 0)) return T(-1);
  const T spread = std::max(std::abs(za) + std::abs(zb), static_cast<T>(1e-300));
  return (std::max(za, T(0)) + std::max(zb, T(0))) / spread;
}

// Row r: the fractions between row ia[r] of za and row ib[r] of zb (same dtype, same row shape),
// in one pass over the units: [R, ...za's row shape].
Tensor fractions_of_rows(const Tensor& za, const Tensor& ia, const Tensor& zb, const Tensor& ib) {
  const Tensor a_c = za.contiguous(), b_c = zb.contiguous(), ia_c = ia.contiguous(), ib_c = ib.contiguous();
  const int64_t R = ia.numel(), n = za.numel() / std::max<int64_t>(za.size(0), 1);
  Shape shape = za.shape();
  shape[0] = R;
  Tensor out = Tensor::empty(shape, za.dtype());
  const int64_t* pa = ia_c.data<int64_t>();
  const int64_t* pb = ib_c.data<int64_t>();
  dispatch_float(za.dtype(), "relu_fractions", [&](auto tag) {
    using T = decltype(tag);
    const T* ap = a_c.data<T>();
    const T* bp = b_c.data<T>();
    T* op = out.data<T>();
    parallel_for(R, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* a = ap + pa[r] * n;
        const T* b = bp + pb[r] * n;
        T* o = op + r * n;
        for (int64_t u = 0; u < n; ++u) o[u] = fraction_of(a[u], b[u]);
      }
    });
  });
  return out;
}
}  // namespace

Tensor relu_fractions(const Tensor& za, const Tensor& zb) {
  if (za.shape() != zb.shape() || za.dtype() != zb.dtype())
    throw std::invalid_argument(fmt::format("relu_fractions: pre-activations {} {} and {} {} differ",
                                            dtype_name(za.dtype()), shape_str(za.shape()), dtype_name(zb.dtype()),
                                            shape_str(zb.shape())));
  const int64_t R = za.dim() > 0 ? za.size(0) : 1;
  const Tensor rows = Tensor::arange(R, DType::Int64);  // row r of za against row r of zb
  return K::reshape(fractions_of_rows(K::reshape(za, {R, -1}), rows, K::reshape(zb, {R, -1}), rows), za.shape());
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
  for (const Tensor& z : relu) out.relu.push_back(fractions_of_rows(z, ia, z, ib));
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

Tensor ActiveFractions::relu_backward(const Tensor& grad, const Tensor& z, const Tensor& fractions) {
  if (!fractions.defined()) return K::relu_backward(grad, z);
  return K::mul(grad, K::where(K::ge(fractions, scalar(0.0, fractions.dtype())), fractions, K::step(z)));
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
