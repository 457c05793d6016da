// Per-sample rules (see per_sample_rules.hpp): the broadcast rule, the dispatch of ParamRules, and
// the ParamRules of linear, matmul, embedding and conv2d.
#include "autograd/per_sample_rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace pathgrad {
namespace K = kernel;
using Ctx = BackwardContext;

namespace {

// [rows, ...] -> [B]: the sum of every sample's entries (a sample is rows / B consecutive rows).
Tensor sum_per_sample(const Tensor& t, const Ctx& ctx) {
  return K::sum(K::reshape(t.contiguous(), {ctx.batch, -1}), {1});
}

// Contraction mode: [B, K] with column k = f(direction k), where f returns [B].
template <class F>
Tensor per_direction(const Tensor& leaf, const Ctx& ctx, F f) {
  const std::vector<Tensor>& dirs = ctx.directions_for(leaf);
  if (dirs.empty()) return Tensor::zeros({ctx.batch, 0}, leaf.dtype());
  std::vector<Tensor> cols;
  cols.reserve(dirs.size());
  for (const Tensor& d : dirs) cols.push_back(f(d));
  return K::stack(cols, 1);
}

// [B, ...shape] per-sample gradients as the pass wants them: unchanged, or in contraction mode
// dotted with the leaf's directions -> [B, K].
Tensor per_sample_result(const Tensor& per_sample, const Tensor& leaf, const Ctx& ctx) {
  if (!ctx.contract()) return per_sample;
  const Tensor flat = K::reshape(per_sample.contiguous(), {ctx.batch, -1});  // [B, P]
  return per_direction(leaf, ctx, [&](const Tensor& d) {
    return K::reshape(K::matmul(flat, K::reshape(d.contiguous(), {-1})), {ctx.batch});
  });
}

// [B·n, ..., k] -> [B, n·R, k] (R = product of the middle dims), contiguous: a sample's rows.
Tensor as_batch_rows(const Tensor& t, int64_t batch) { return K::reshape(t.contiguous(), {batch, -1, t.size(-1)}); }

// Throws `message` (prefixed with "per_sample_grad: ") unless `ok`.
void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("per_sample_grad: " + message);
}

// A rule whose tangent is `along` itself once `check` passed.
ParamRule rule_with(std::function<void(const Ctx&)> check, std::function<Tensor(const Tensor&, const Ctx&)> per_sample,
                    ParamRule::Tangent along) {
  ParamRule rule;
  rule.per_sample = [check, per_sample](const Tensor& g, const Ctx& ctx) {
    check(ctx);
    return per_sample(g, ctx);
  };
  rule.tangent = [check, along = std::move(along)](const Ctx& ctx) {
    check(ctx);
    return along;
  };
  return rule;
}

}  // namespace

Tensor unbroadcast(const Tensor& g, const Node& node, size_t i, const Ctx& ctx) {
  const Shape& shape = node.inputs[i].shape();
  if (!node.per_sample(i, ctx)) return K::sum_to(g, shape);
  const int64_t nd = static_cast<int64_t>(shape.size()), gd = g.dim();
  const bool batch_broadcast = gd > nd || (gd == nd && nd > 0 && shape[0] == 1);
  require(batch_broadcast && g.size(0) == ctx.rows,
          fmt::format(
              "'{}' combines a parameter of shape {} with a tensor of shape {} whose dim 0 is not the batch of {} rows",
              node.name, shape_str(shape), shape_str(g.shape()), ctx.rows));
  // Sum every broadcast dim but dim 0: the lead dims beyond it and the dims where shape has a 1.
  std::vector<int64_t> dims;
  const int64_t lead = gd - nd;
  for (int64_t d = 1; d < lead; ++d) dims.push_back(d);
  for (int64_t d = std::max<int64_t>(lead, 1); d < gd; ++d)
    if (shape[d - lead] == 1 && g.size(d) != 1) dims.push_back(d);
  Tensor s = dims.empty() ? g : K::sum(g, dims, true);
  Shape out = shape;
  out.insert(out.begin(), ctx.rows);
  return per_sample_result(ctx.sum_rows(K::reshape(s, out)), node.inputs[i], ctx);  // [B, ...shape] or [B, K]
}

Tensor param_gradient(const ParamRule& rule, const Tensor& leaf, const Tensor& g, const Ctx& ctx) {
  if (!ctx.contract()) return rule.per_sample(g, ctx);
  if (rule.dot) return per_direction(leaf, ctx, [&](const Tensor& d) { return rule.dot(g, d, ctx); });
  const ParamRule::Tangent tangent = rule.tangent(ctx);
  return per_direction(leaf, ctx, [&](const Tensor& d) { return sum_per_sample(K::mul(g, tangent(d)), ctx); });
}

// ---------------------------------------------------------------- linear, matmul, embedding
namespace {
std::function<void(const Ctx&)> linear_check(const Tensor& x) {
  return [xs = x.shape()](const Ctx& ctx) {
    require(xs.size() >= 2 && xs[0] == ctx.rows,
            fmt::format("linear input {} has no batch dim of {} rows", shape_str(xs), ctx.rows));
  };
}
}  // namespace

namespace {
// The smallest block [r0, r1) x [c0, c1) of a matrix d [rows, cols] outside which every entry is
// zero (r0 == r1 when d is all zero). Stops scanning as soon as the block is known to be whole.
struct Block {
  int64_t r0, r1, c0, c1;
};
template <class T>
Block nonzero_block(const T* d, int64_t rows, int64_t cols) {
  auto row_zero = [&](int64_t r) { return std::all_of(d + r * cols, d + (r + 1) * cols, [](T v) { return v == 0; }); };
  Block b{0, rows, cols, 0};
  while (b.r0 < rows && row_zero(b.r0)) ++b.r0;
  while (b.r1 > b.r0 && row_zero(b.r1 - 1)) --b.r1;
  for (int64_t r = b.r0; r < b.r1 && (b.c0 > 0 || b.c1 < cols); ++r) {
    const T* row = d + r * cols;
    int64_t first = 0, last = cols;
    while (first < b.c0 && row[first] == 0) ++first;
    while (last > b.c1 && row[last - 1] == 0) --last;
    b.c0 = std::min(b.c0, first);
    b.c1 = std::max(b.c1, last);
  }
  return b;
}
}  // namespace

ParamRule linear_weight_rule(const Tensor& x, ParamRule::Tangent along, const Tensor& delta,
                             const Tensor& delta_tangent) {
  const auto check = linear_check(x);
  ParamRule rule = rule_with(
      check,
      [x = x.detach()](const Tensor& g, const Ctx& ctx) {
        return K::matmul(K::transpose(as_batch_rows(g, ctx.batch), 1, 2),
                         as_batch_rows(x, ctx.batch));  // [B, out, R] @ [B, R, in]
      },
      std::move(along));
  // g . (x Dᵀ) over the block of D that is not zero: its rows pick g's columns, its columns x's.
  rule.dot = [check, x = x.detach(), delta, delta_tangent](const Tensor& g, const Tensor& d, const Ctx& ctx) {
    check(ctx);
    if (delta_tangent.defined() && d.impl_ptr() == delta.impl_ptr())
      return sum_per_sample(K::mul(g, delta_tangent), ctx);
    const Tensor dc = d.contiguous();
    const Block b = dispatch_float(dc.dtype(), "linear contraction", [&](auto tag) {
      return nonzero_block(dc.template data<decltype(tag)>(), dc.size(0), dc.size(1));
    });
    if (b.r0 == b.r1) return Tensor::zeros({ctx.batch}, g.dtype());
    const Tensor block = K::narrow(K::narrow(dc, 0, b.r0, b.r1 - b.r0), 1, b.c0, b.c1 - b.c0);  // [r, c]
    const Tensor xs = K::narrow(x, -1, b.c0, b.c1 - b.c0).contiguous();                         // [..., c]
    return sum_per_sample(K::mul(K::narrow(g, -1, b.r0, b.r1 - b.r0), K::matmul(xs, K::transpose(block, 0, 1))), ctx);
  };
  return rule;
}

ParamRule linear_bias_rule(const Tensor& x, ParamRule::Tangent along) {
  return rule_with(
      linear_check(x),
      [](const Tensor& g, const Ctx& ctx) {
        return K::sum(as_batch_rows(g, ctx.batch), {1});  // [B, R, out] -> [B, out]
      },
      std::move(along));
}

ParamRule matmul_right_rule(const Tensor& a, const Tensor& b, ParamRule::Tangent along) {
  auto check = [as = a.shape(), bs = b.shape()](const Ctx& ctx) {
    require(bs.size() == 2 && as.size() >= 2 && as[0] == ctx.rows,
            fmt::format("matmul needs [B, ..., k] @ parameter [k, m]; got {} @ {}", shape_str(as), shape_str(bs)));
  };
  return rule_with(
      check,
      [a = a.detach()](const Tensor& g, const Ctx& ctx) {
        return K::matmul(K::transpose(as_batch_rows(a, ctx.batch), 1, 2),
                         as_batch_rows(g, ctx.batch));  // [B, k, R] @ [B, R, m]
      },
      std::move(along));
}

ParamRule embedding_rule(const Tensor& index, int64_t rows, ParamRule::Tangent along) {
  auto check = [is = index.shape()](const Ctx& ctx) {
    require(!is.empty() && is[0] == ctx.rows,
            fmt::format("embedding index {} has no batch dim of {} rows", shape_str(is), ctx.rows));
  };
  return rule_with(
      check,
      [index, rows](const Tensor& g, const Ctx& ctx) {
        // Offset each sample's indices into its own block of rows: [B * V, D] -> [B, V, D].
        Tensor idx = index.contiguous().clone();
        int64_t* p = idx.data<int64_t>();
        const int64_t per = idx.numel() / ctx.batch;
        for (int64_t b = 0; b < ctx.batch; ++b)
          for (int64_t j = 0; j < per; ++j) {
            int64_t& v = p[b * per + j];
            if (v < 0 || v >= rows)
              throw std::out_of_range(fmt::format("embedding: index {} out of range for {} rows", v, rows));
            v += b * rows;
          }
        Tensor acc = K::embedding_backward(g, idx, ctx.batch * rows);
        return K::reshape(acc, {ctx.batch, rows, g.size(-1)});
      },
      std::move(along));
}

// ---------------------------------------------------------------- conv2d
namespace {
std::function<void(const Ctx&)> conv2d_check(const Tensor& x) {
  return [xs = x.shape()](const Ctx& ctx) {
    require(xs[0] == ctx.rows, fmt::format("conv2d input {} has no batch dim of {} rows", shape_str(xs), ctx.rows));
  };
}

// g [N, O, OH, OW] -> [N, O, L].
Tensor as_channel_rows(const Tensor& g) {
  return K::reshape(g.contiguous(), {g.size(0), g.size(1), g.size(2) * g.size(3)});
}
}  // namespace

ParamRule conv2d_weight_rule(const Tensor& x, const K::Conv2dGeometry& geo, const Shape& ws) {
  const auto check = conv2d_check(x);
  ParamRule rule;
  rule.per_sample = [check, x = x.detach(), geo, ws](const Tensor& g, const Ctx& ctx) {
    check(ctx);
    Shape s = ws;
    s.insert(s.begin(), x.size(0));
    const Tensor cols = K::im2col(x, geo);                                                        // [N, CKK, L]
    return ctx.sum_rows(K::reshape(K::matmul(as_channel_rows(g), K::transpose(cols, 1, 2)), s));  // [B, O, C, kh, kw]
  };
  rule.tangent = [check, x = x.detach(), geo, O = ws[0]](const Ctx& ctx) -> ParamRule::Tangent {
    check(ctx);
    const Shape y_shape{x.size(0), O, geo.out_h(x.size(2)), geo.out_w(x.size(3))};
    return [cols = K::im2col(x, geo), O, y_shape](const Tensor& d) {  // D2 @ cols: [O, CKK] @ [N, CKK, L]
      return K::reshape(K::matmul(K::reshape(d.contiguous(), {O, -1}), cols), y_shape);
    };
  };
  return rule;
}

ParamRule conv2d_bias_rule(const Tensor& x, ParamRule::Tangent along) {
  return rule_with(
      conv2d_check(x),
      [](const Tensor& g, const Ctx& ctx) {
        return ctx.sum_rows(K::sum(as_channel_rows(g), {2}));  // [N, O, L] -> [B, O]
      },
      std::move(along));
}

}  // namespace pathgrad
