// Differentiable operations, each its forward through tensor/kernels and its ordinary backward
// rule, recorded as a closure. The other concerns live in named rules of their own: per-sample
// gradients in per_sample_rules.hpp (unbroadcast, ParamRule), path points and kinks in
// path_rules.hpp. Closures capture detached tensors only (never the recorded result itself), so
// graphs hold no reference cycles.
#include "autograd/ops.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "autograd/path_point.hpp"
#include "autograd/path_rules.hpp"
#include "autograd/per_sample_rules.hpp"

namespace pathgrad {
namespace K = kernel;
using Grads = std::vector<Tensor>;
using Ctx = BackwardContext;

namespace {

// For ops with one operand: gradient = g * derivative(), the local derivative (of the operand's
// shape) computed from the values the callable captured, only when backward runs: inference
// pays nothing for it.
template <class Derivative>
Tensor unary_op(const char* name, const Tensor& a, Tensor result, Derivative derivative) {
  return record(std::move(result), name, {a}, [d = std::move(derivative)](const Node&, const Tensor& g, const Ctx&) {
    return Grads{K::mul(g, d())};
  });
}

}  // namespace

// ---------------------------------------------------------------- arithmetic
Tensor add(const Tensor& a, const Tensor& b) {
  return record(K::add(path_value(a, b, "add"), path_value(b, a, "add")), "add", {a, b},
                [](const Node& n, const Tensor& g, const Ctx& ctx) {
                  return Grads{n.needs(0) ? unbroadcast(g, n, 0, ctx) : Tensor(),
                               n.needs(1) ? unbroadcast(g, n, 1, ctx) : Tensor()};
                });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return record(K::sub(path_value(a, b, "sub"), path_value(b, a, "sub")), "sub", {a, b},
                [](const Node& n, const Tensor& g, const Ctx& ctx) {
                  return Grads{n.needs(0) ? unbroadcast(g, n, 0, ctx) : Tensor(),
                               n.needs(1) ? unbroadcast(K::neg(g), n, 1, ctx) : Tensor()};
                });
}

Tensor mul(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = path_value(a_in, b_in, "mul"), b = path_value(b_in, a_in, "mul");
  return record(K::mul(a, b), "mul", {a_in, b_in},
                [a = a.detach(), b = b.detach()](const Node& n, const Tensor& g, const Ctx& ctx) {
                  return Grads{n.needs(0) ? unbroadcast(K::mul(g, b), n, 0, ctx) : Tensor(),
                               n.needs(1) ? unbroadcast(K::mul(g, a), n, 1, ctx) : Tensor()};
                });
}

Tensor div(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = path_value(a_in, b_in, "div"), b = path_value(b_in, a_in, "div");
  Tensor r = K::div(a, b);
  return record(r, "div", {a_in, b_in}, [r, b = b.detach()](const Node& n, const Tensor& g, const Ctx& ctx) {
    Tensor ga = K::div(g, b);
    return Grads{n.needs(0) ? unbroadcast(ga, n, 0, ctx) : Tensor(),
                 n.needs(1) ? unbroadcast(K::neg(K::mul(ga, r)), n, 1, ctx) : Tensor()};
  });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor r = K::pow(a, b);
  return record(r, "pow", {a, b}, [r, a = a.detach(), b = b.detach()](const Node& n, const Tensor& g, const Ctx& ctx) {
    Grads out(2);
    if (n.needs(0)) {  // b * a^(b-1)
      Tensor d = K::mul(b, K::pow(a, K::add_scalar(b, -1.0)));
      out[0] = unbroadcast(K::mul(g, d), n, 0, ctx);
    }
    if (n.needs(1)) out[1] = unbroadcast(K::mul(g, K::mul(r, K::log(a))), n, 1, ctx);
    return out;
  });
}

Tensor add(const Tensor& a, double s) {
  return record(K::add_scalar(a, s), "add_scalar", {a},
                [](const Node&, const Tensor& g, const Ctx&) { return Grads{g}; });
}

Tensor mul(const Tensor& a, double s) {
  return record(K::mul_scalar(a, s), "mul_scalar", {a},
                [s](const Node&, const Tensor& g, const Ctx&) { return Grads{K::mul_scalar(g, s)}; });
}

Tensor pow(const Tensor& a, double e) {
  return unary_op("pow_scalar", a, K::pow_scalar(a, e),
                  [a = a.detach(), e] { return K::mul_scalar(K::pow_scalar(a, e - 1.0), e); });
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double s) { return add(a, s); }
Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
Tensor operator/(const Tensor& a, double s) { return mul(a, 1.0 / s); }
Tensor operator+(double s, const Tensor& a) { return add(a, s); }
Tensor operator-(double s, const Tensor& a) { return add(neg(a), s); }
Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
Tensor operator-(const Tensor& a) { return neg(a); }

// ---------------------------------------------------------------- elementwise functions
Tensor neg(const Tensor& a) {
  return record(K::neg(a), "neg", {a}, [](const Node&, const Tensor& g, const Ctx&) { return Grads{K::neg(g)}; });
}

Tensor exp(const Tensor& a) {
  Tensor r = K::exp(a);
  return unary_op("exp", a, r, [r] { return r; });
}

Tensor log(const Tensor& a) {
  return record(K::log(a), "log", {a},
                [a = a.detach()](const Node&, const Tensor& g, const Ctx&) { return Grads{K::div(g, a)}; });
}

Tensor sqrt(const Tensor& a) {
  Tensor r = K::sqrt(a);
  return record(r, "sqrt", {a},
                [r](const Node&, const Tensor& g, const Ctx&) { return Grads{K::div(K::mul_scalar(g, 0.5), r)}; });
}

Tensor abs(const Tensor& a) {
  return unary_op("abs", a, K::abs(a), [a = a.detach()] { return K::sign(a); });
}

Tensor tanh(const Tensor& a) {
  Tensor r = K::tanh(a);
  return unary_op("tanh", a, r, [r] { return K::rsub_scalar(K::mul(r, r), 1.0); });
}

Tensor sigmoid(const Tensor& a) {
  Tensor r = K::sigmoid(a);
  return unary_op("sigmoid", a, r, [r] { return K::mul(r, K::rsub_scalar(r, 1.0)); });
}

Tensor relu(const Tensor& a) {
  return record(K::relu(a), "relu", {a}, [gradient = relu_gradient(a)](const Node&, const Tensor& g, const Ctx&) {
    return Grads{gradient(g)};  // g where a > 0 (or times a piece's active fractions)
  });
}

Tensor clamp(const Tensor& a, double lo, double hi) {
  Tensor r = K::clamp(a, lo, hi);
  return record(r, "clamp", {a}, [a = a.detach(), lo, hi](const Node&, const Tensor& g, const Ctx&) {
    const Tensor lo_t = Tensor::full({}, lo, a.dtype()), hi_t = Tensor::full({}, hi, a.dtype());
    return Grads{K::mul(g, K::mul(K::gt(a, lo_t), K::lt(a, hi_t)))};
  });
}

namespace {
// maximum/minimum: the gradient goes to a where a_wins(a, b) (ties included), else to b.
Tensor select_grad_op(const char* name, const Tensor& a, const Tensor& b, Tensor result,
                      Tensor (*a_wins)(const Tensor&, const Tensor&)) {
  return record(std::move(result), name, {a, b},
                [a = a.detach(), b = b.detach(), a_wins](const Node& n, const Tensor& g, const Ctx& ctx) {
                  const Tensor w = a_wins(a, b);
                  Grads out(2);
                  if (n.needs(0)) out[0] = unbroadcast(K::mul(g, w), n, 0, ctx);
                  if (n.needs(1)) out[1] = unbroadcast(K::mul(g, K::rsub_scalar(w, 1.0)), n, 1, ctx);
                  return out;
                });
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return select_grad_op("maximum", a, b, K::maximum(a, b), K::ge); }
Tensor minimum(const Tensor& a, const Tensor& b) { return select_grad_op("minimum", a, b, K::minimum(a, b), K::le); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Tensor c = cond.to(a.dtype()).detach();  // values only: the condition is not differentiated
  return record(K::where(c, a, b), "where", {a, b}, [c](const Node& n, const Tensor& g, const Ctx& ctx) {
    const Tensor zero = Tensor::zeros({}, g.dtype());
    Grads out(2);
    if (n.needs(0)) out[0] = unbroadcast(K::where(c, g, zero), n, 0, ctx);
    if (n.needs(1)) out[1] = unbroadcast(K::where(c, zero, g), n, 1, ctx);
    return out;
  });
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  Tensor m = mask.to(a.dtype()).detach();
  return record(K::masked_fill(a, m, value), "masked_fill", {a},
                [m](const Node&, const Tensor& g, const Ctx&) { return Grads{K::masked_fill(g, m, 0.0)}; });
}

// ---------------------------------------------------------------- reductions
namespace {
// Re-inserts reduced dims (size 1) into a gradient so that it broadcasts against the input.
Tensor unsqueeze_reduced(const Tensor& g, const Shape& in_shape, const std::vector<int64_t>& dims, bool keepdim) {
  if (keepdim) return g;
  const int64_t nd = static_cast<int64_t>(in_shape.size());
  std::vector<bool> reduced(static_cast<size_t>(nd), dims.empty());
  for (int64_t d : dims) reduced[normalize_dim(d, nd, "reduce")] = true;
  Shape s;
  for (int64_t d = 0; d < nd; ++d) s.push_back(reduced[d] ? 1 : in_shape[d]);
  return K::reshape(g.contiguous(), s);
}
}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return record(K::sum(a, dims, keepdim), "sum", {a},
                [shape = a.shape(), dims, keepdim](const Node&, const Tensor& g, const Ctx&) {
                  return Grads{K::expand(unsqueeze_reduced(g, shape, dims, keepdim), shape)};
                });
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  int64_t count = dims.empty() ? a.numel() : 1;
  for (int64_t d : dims) count *= a.size(d);
  if (count == 0) throw std::invalid_argument("mean: reducing over an empty dimension");
  return mul(sum(a, dims, keepdim), 1.0 / static_cast<double>(count));
}

namespace {
Tensor extreme_op(const char* name, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, Tensor r) {
  return record(r, name, {a}, [a = a.detach(), r, dims, keepdim](const Node&, const Tensor& g, const Ctx&) {
    Tensor rk = unsqueeze_reduced(r, a.shape(), dims, keepdim);
    Tensor mask = K::eq(a, rk);  // tied extremes share the gradient equally
    Tensor count = K::sum(mask, dims, true);
    Tensor gk = unsqueeze_reduced(g, a.shape(), dims, keepdim);
    return Grads{K::mul(mask, K::div(gk, count))};
  });
}
}  // namespace

Tensor amax(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_op("amax", a, dims, keepdim, K::amax(a, dims, keepdim));
}
Tensor amin(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_op("amin", a, dims, keepdim, K::amin(a, dims, keepdim));
}

Tensor logsumexp(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor r = K::logsumexp(a, dims, keepdim);
  return record(r, "logsumexp", {a}, [a = a.detach(), r, dims, keepdim](const Node&, const Tensor& g, const Ctx&) {
    Tensor p = K::exp(K::sub(a, unsqueeze_reduced(r, a.shape(), dims, keepdim)));
    return Grads{K::mul(p, unsqueeze_reduced(g, a.shape(), dims, keepdim))};
  });
}

Tensor softmax(const Tensor& a, int64_t dim) {
  Tensor r = K::softmax(a, dim);
  return record(r, "softmax", {a}, [r, dim](const Node&, const Tensor& g, const Ctx&) {
    // dx = y * (g - sum(g * y))
    Tensor s = K::sum(K::mul(g, r), {dim}, true);
    return Grads{K::mul(r, K::sub(g, s))};
  });
}

Tensor log_softmax(const Tensor& a, int64_t dim) {
  Tensor r = K::log_softmax(a, dim);
  return record(r, "log_softmax", {a}, [r, dim](const Node&, const Tensor& g, const Ctx&) {
    // dx = g - softmax * sum(g)
    Tensor s = K::sum(g, {dim}, true);
    return Grads{K::sub(g, K::mul(K::exp(r), s))};
  });
}

// ---------------------------------------------------------------- shapes
Tensor reshape(const Tensor& a, const Shape& shape) {
  return record(K::reshape(a, shape), "reshape", {a},
                [in = a.shape()](const Node&, const Tensor& g, const Ctx&) { return Grads{K::reshape(g, in)}; });
}

Tensor flatten(const Tensor& a, int64_t start_dim) {
  const int64_t s = normalize_dim(start_dim, a.dim(), "flatten");
  Shape shape(a.shape().begin(), a.shape().begin() + s);
  shape.push_back(-1);
  if (a.numel() == 0) shape.back() = 0;
  return reshape(a, shape);
}

Tensor permute(const Tensor& a, const std::vector<int64_t>& order) {
  Tensor r = K::permute(a, order);
  std::vector<int64_t> inverse(order.size());
  for (size_t i = 0; i < order.size(); ++i)
    inverse[normalize_dim(order[i], a.dim(), "permute")] = static_cast<int64_t>(i);
  return record(r, "permute", {a},
                [inverse](const Node&, const Tensor& g, const Ctx&) { return Grads{K::permute(g, inverse)}; });
}

Tensor transpose(const Tensor& a, int64_t d0, int64_t d1) {
  return record(K::transpose(a, d0, d1), "transpose", {a},
                [d0, d1](const Node&, const Tensor& g, const Ctx&) { return Grads{K::transpose(g, d0, d1)}; });
}

Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length) {
  return record(K::narrow(a, dim, start, length), "narrow", {a},
                [shape = a.shape(), dim, start, length](const Node&, const Tensor& g, const Ctx&) {
                  Tensor out = Tensor::zeros(shape, g.dtype());
                  K::narrow(out, dim, start, length).copy_(g);
                  return Grads{out};
                });
}

Tensor select(const Tensor& a, int64_t dim, int64_t index) {
  const int64_t d = normalize_dim(dim, a.dim(), "select");
  const int64_t i = index < 0 ? index + a.size(d) : index;
  if (i < 0 || i >= a.size(d))
    throw std::out_of_range(
        fmt::format("select: index {} out of range for dim {} of shape {}", index, d, shape_str(a.shape())));
  return squeeze(narrow(a, d, i, 1), d);
}

Tensor expand(const Tensor& a, const Shape& shape) {
  Tensor r = K::expand(a, shape);
  return record(r, "expand", {a},
                [](const Node& n, const Tensor& g, const Ctx& ctx) { return Grads{unbroadcast(g, n, 0, ctx)}; });
}

Tensor squeeze(const Tensor& a, int64_t dim) {
  return record(K::squeeze(a, dim), "squeeze", {a},
                [in = a.shape()](const Node&, const Tensor& g, const Ctx&) { return Grads{K::reshape(g, in)}; });
}

Tensor unsqueeze(const Tensor& a, int64_t dim) {
  return record(K::unsqueeze(a, dim), "unsqueeze", {a},
                [in = a.shape()](const Node&, const Tensor& g, const Ctx&) { return Grads{K::reshape(g, in)}; });
}

Tensor contiguous(const Tensor& a) {
  if (a.is_contiguous()) return a;
  return record(a.clone(), "contiguous", {a}, [](const Node&, const Tensor& g, const Ctx&) { return Grads{g}; });
}

Tensor to_dtype(const Tensor& a, DType dtype) {
  if (a.dtype() == dtype) return a;
  if (!is_floating_point(dtype)) return a.to(dtype);  // integers carry no gradient
  return record(a.to(dtype), "to_dtype", {a},
                [from = a.dtype()](const Node&, const Tensor& g, const Ctx&) { return Grads{g.to(from)}; });
}

Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index) {
  const int64_t d = normalize_dim(dim, a.dim(), "index_select");
  return record(K::index_select(a, d, index), "index_select", {a},
                [shape = a.shape(), d, index](const Node&, const Tensor& g, const Ctx&) {
                  // Move dim d first, accumulate rows at their indices, move it back.
                  Tensor gm = K::transpose(g, 0, d).contiguous();
                  Tensor acc = K::embedding_backward(gm, index, shape[d]);
                  return Grads{K::transpose(acc, 0, d).contiguous()};
                });
}

Tensor gather(const Tensor& a, int64_t dim, const Tensor& index) {
  const int64_t d = normalize_dim(dim, a.dim(), "gather");
  return record(K::gather(a, d, index), "gather", {a},
                [shape = a.shape(), d, index](const Node&, const Tensor& g, const Ctx&) {
                  return Grads{K::scatter_add(shape, d, index, g)};
                });
}

Tensor cat(const std::vector<Tensor>& parts, int64_t dim) {
  if (parts.empty()) throw std::invalid_argument("cat: no tensors given");
  const int64_t d = normalize_dim(dim, parts[0].dim(), "cat");
  std::vector<int64_t> sizes;
  for (const Tensor& p : parts) sizes.push_back(p.dim() > d ? p.size(d) : 0);
  return record(K::cat(parts, d), "cat", parts, [sizes, d](const Node& n, const Tensor& g, const Ctx&) {
    Grads out(sizes.size());
    int64_t at = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (n.needs(i)) out[i] = K::narrow(g, d, at, sizes[i]);
      at += sizes[i];
    }
    return out;
  });
}

Tensor stack(const std::vector<Tensor>& parts, int64_t dim) {
  if (parts.empty()) throw std::invalid_argument("stack: no tensors given");
  const int64_t d = normalize_dim(dim, parts[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (const Tensor& p : parts) expanded.push_back(unsqueeze(p, d));
  return cat(expanded, d);  // cat names the parts whose shapes differ
}

// ---------------------------------------------------------------- layer primitives
// Each is linear in its parameter operands. Beside its forward and ordinary rule it names its
// tangent along a parameter direction D (its output's change, e.g. x Dᵀ for linear), which moves the
// output to a path point (shift_to_path_point) and contracts per-sample gradients (its ParamRule).

Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor y = K::matmul(a, b);
  const ParamRule::Tangent along = [a = a.detach()](const Tensor& d) { return K::matmul(a, d); };
  check_matmul_path(a, b);
  const PathShift path = shift_to_path_point(y, "matmul", {b}, {along});
  return record(y, "matmul", {a, b},
                [a = a.detach(), b = b.detach(), path](const Node& n, const Tensor& g, const Ctx&) {
                  Grads out(2);
                  const bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
                  // Restore the dims NumPy's promotion removed, so the general rule applies.
                  const Tensor A = a_vec ? K::unsqueeze(a, 0) : a, B = b_vec ? K::unsqueeze(b, 1) : b;
                  Tensor G = g;
                  if (a_vec) G = K::unsqueeze(G, G.dim() - (b_vec ? 0 : 1));
                  if (b_vec) G = K::unsqueeze(G, G.dim());
                  if (n.needs(0)) {  // G Bᵀ, at the path point G Bᵀ + (G t) ΔBᵀ
                    const auto rule = [&](const Tensor& gy, const Tensor& w) {
                      return K::sum_to(K::matmul(gy, K::transpose(w, -1, -2)), A.shape());
                    };
                    const Tensor ga = path.input_grad(rule, G, B, 0);
                    out[0] = a_vec ? K::reshape(ga, a.shape()) : ga;
                  }
                  if (n.needs(1)) {  // Aᵀ G
                    const Tensor gb = K::sum_to(K::matmul(K::transpose(A, -1, -2), G), B.shape());
                    out[1] = b_vec ? K::reshape(gb, b.shape()) : gb;
                  }
                  return out;
                },
                {ParamRule(), matmul_right_rule(a, b, along)});
}

namespace {
// [..., k] -> [rows, k], contiguous.
Tensor as_rows(const Tensor& t) { return K::reshape(t.contiguous(), {-1, t.size(-1)}); }
}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1))
    throw std::invalid_argument(fmt::format("linear: input {} does not match weight {} ([out, in])",
                                            shape_str(x.shape()), shape_str(weight.shape())));
  if (bias.defined() && bias.shape() != Shape{weight.size(0)})
    throw std::invalid_argument(
        fmt::format("linear: bias {} does not match weight {}", shape_str(bias.shape()), shape_str(weight.shape())));
  Tensor y = K::matmul(x, K::transpose(weight, 0, 1));  // [..., out]
  if (bias.defined()) y = K::add(y, bias);
  const ParamRule::Tangent along_w = [x = x.detach()](const Tensor& d) { return K::matmul(x, K::transpose(d, 0, 1)); };
  const ParamRule::Tangent along_b = [](const Tensor& d) { return d; };
  const PathShift path = shift_to_path_point(y, "linear", {weight, bias}, {along_w, along_b});
  return record(y, "linear", {x, weight, bias},
                [x = x.detach(), w = weight.detach(), path](const Node& n, const Tensor& g, const Ctx&) {
                  Grads out(3);
                  const auto input_rule = [](const Tensor& gy, const Tensor& w) { return K::matmul(gy, w); };
                  if (n.needs(0)) out[0] = path.input_grad(input_rule, g, w, 0);                   // g W: [..., in]
                  if (n.needs(1)) out[1] = K::matmul(K::transpose(as_rows(g), 0, 1), as_rows(x));  // gᵀ x: [out, in]
                  if (n.needs(2)) out[2] = K::sum(as_rows(g), {0});                                // [out]
                  return out;
                },
                {ParamRule(),
                 path.moves(0) ? linear_weight_rule(x, along_w, path.deltas[0], path.tangents[0])
                               : linear_weight_rule(x, along_w),
                 linear_bias_rule(x, along_b)});
}

Tensor embedding(const Tensor& weight, const Tensor& index) {
  if (weight.dim() != 2)
    throw std::invalid_argument("embedding: weight must be [V, D], got " + shape_str(weight.shape()));
  Tensor y = K::embedding(weight, index);  // [..., D]
  const ParamRule::Tangent along = [index](const Tensor& d) { return K::embedding(d, index); };
  shift_to_path_point(y, "embedding", {weight}, {along});
  return record(
      y, "embedding", {weight},
      [index, rows = weight.size(0)](const Node& n, const Tensor& g, const Ctx&) {
        return Grads{n.needs(0) ? K::embedding_backward(g, index, rows) : Tensor()};  // g's rows added at their indices
      },
      {embedding_rule(index, weight.size(0), along)});
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding) {
  if (x.dim() != 4 || weight.dim() != 4 || x.size(1) != weight.size(1))
    throw std::invalid_argument(fmt::format("conv2d: input {} ([N, C, H, W]) does not match weight {} ([O, C, kh, kw])",
                                            shape_str(x.shape()), shape_str(weight.shape())));
  if (bias.defined() && bias.shape() != Shape{weight.size(0)})
    throw std::invalid_argument(
        fmt::format("conv2d: bias {} does not match weight {}", shape_str(bias.shape()), shape_str(weight.shape())));
  if (stride <= 0 || padding < 0)
    throw std::invalid_argument(fmt::format("conv2d: stride {} / padding {} invalid", stride, padding));
  const K::Conv2dGeometry geo{weight.size(2), weight.size(3), stride, stride, padding, padding};
  const int64_t N = x.size(0), O = weight.size(0);
  const Shape y_shape{N, O, geo.out_h(x.size(2)), geo.out_w(x.size(3))};
  const auto weight_rows = [O](const Tensor& w) { return K::reshape(w.contiguous(), {O, -1}); };  // [O, CKK]
  Tensor y = K::conv2d_forward(x, weight_rows(weight), geo);                                      // [N, O, L]
  if (bias.defined()) y = K::add(y, K::reshape(bias, {O, 1}));
  y = K::reshape(y, y_shape);
  const ParamRule::Tangent along_w = [x = x.detach(), geo, weight_rows, y_shape](const Tensor& d) {
    return K::reshape(K::conv2d_forward(x, weight_rows(d), geo), y_shape);
  };
  const ParamRule::Tangent along_b = [O](const Tensor& d) { return K::reshape(d, {O, 1, 1}); };
  const PathShift path = shift_to_path_point(y, "conv2d", {weight, bias}, {along_w, along_b});
  return record(y, "conv2d", {x, weight, bias},
                [x = x.detach(), w2 = weight_rows(weight), path, geo, weight_rows, ws = weight.shape()](
                    const Node& n, const Tensor& g, const Ctx&) {
                  Grads out(3);
                  const int64_t N = x.size(0), O = ws[0], L = geo.out_h(x.size(2)) * geo.out_w(x.size(3));
                  const Tensor g3 = K::reshape(g.contiguous(), {N, O, L});
                  if (n.needs(0) || n.needs(1)) {
                    // col2im(w2ᵀ g3) and Σ_n g3_n colsᵀ_n in blocks of samples; at a path point the
                    // kernel adds col2im(ΔW2ᵀ (g3 t)) in the same pass.
                    const bool moved = n.needs(0) && path.moves(0);
                    const Tensor dw2 = moved ? weight_rows(path.deltas[0]) : Tensor();
                    const Tensor gt3 = moved ? K::mul(g3, K::reshape(path.t, {N, 1, 1})) : Tensor();
                    const K::Conv2dGrads r = K::conv2d_backward(x, w2, g3, geo, n.needs(0), n.needs(1), dw2, gt3);
                    out[0] = r.input;
                    if (n.needs(1)) out[1] = K::reshape(r.weight, ws);
                  }
                  if (n.needs(2))  // over [O, N*L], as the whole-batch lowering summed it
                    out[2] = K::sum(K::reshape(K::permute(g3, {1, 0, 2}).contiguous(), {O, N * L}), {1});
                  return out;
                },
                {ParamRule(), conv2d_weight_rule(x, geo, weight.shape()), conv2d_bias_rule(x, along_b)});
}

namespace {
Tensor pool_op(const char* name, const Tensor& x, const K::PoolResult& r) {
  return record(r.values, name, {x},
                [gradient = max_pool_gradient(x, r.indices)](const Node&, const Tensor& g, const Ctx&) {
                  return Grads{gradient(g)};  // to each window's maximum (or along a piece's route)
                });
}
}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride) {
  const int64_t s = stride == 0 ? kernel : stride;
  return pool_op("max_pool2d", x, K::max_pool2d(x, kernel, kernel, s, s));
}

Tensor adaptive_max_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  return pool_op("adaptive_max_pool2d", x, K::adaptive_max_pool2d(x, out_h, out_w));
}

}  // namespace pathgrad
