// Scaled dot-product attention and nn::MultiHeadAttention.
#include "nn/attention.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "autograd/ops.hpp"

namespace pathgrad::nn {

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || k.shape()[0] != q.shape()[0] || v.shape()[0] != q.shape()[0] ||
      k.shape()[1] != q.shape()[1] || v.shape()[1] != q.shape()[1] || k.size(3) != q.size(3) || v.size(2) != k.size(2))
    throw std::invalid_argument(fmt::format(
        "scaled_dot_product_attention: expected q [B, H, T, Dh], k [B, H, S, Dh], v [B, H, S, Dv]; got {}, {}, {}",
        shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape())));
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  Tensor scores = matmul(q, transpose(k, -2, -1)) * scale;  // [B, H, T, S]
  if (mask.defined()) {
    if (broadcast_shapes(mask.shape(), scores.shape(), "scaled_dot_product_attention") != scores.shape())
      throw std::invalid_argument(fmt::format("scaled_dot_product_attention: mask {} does not broadcast to scores {}",
                                              shape_str(mask.shape()), shape_str(scores.shape())));
    const Tensor blocked = kernel::eq(mask, Tensor::zeros({}, mask.dtype()));
    scores = masked_fill(scores, blocked, -std::numeric_limits<double>::infinity());
  }
  return matmul(softmax(scores, -1), v);  // [B, H, T, Dv]
}

Tensor causal_mask(int64_t T, DType dtype) {
  Tensor m = Tensor::zeros({T, T}, dtype);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t s = 0; s <= t; ++s) m.set({t, s}, 1.0);
  return m;
}

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionOptions& options) : options_(options) {
  check_positive("MultiHeadAttention", "d_model", options.d_model());
  check_positive("MultiHeadAttention", "num_heads", options.num_heads());
  if (options.d_head() < 0)
    throw std::invalid_argument(
        fmt::format("MultiHeadAttention: d_head must be >= 0 (0: d_model / num_heads), got {}", options.d_head()));
  if (options.d_head() == 0 && options.d_model() % options.num_heads() != 0)
    throw std::invalid_argument(
        fmt::format("MultiHeadAttention: d_model {} is not divisible by num_heads {}; set d_head explicitly",
                    options.d_model(), options.num_heads()));
  d_head_ = options.d_head() > 0 ? options.d_head() : options.d_model() / options.num_heads();
  const int64_t width = options.num_heads() * d_head_;
  auto projection = [&](int64_t in, int64_t out_features) {
    return std::make_shared<Linear>(
        LinearOptions(in, out_features).bias(options.bias()).generator(options.generator()));
  };
  if (options.shared_qkv()) {
    qkv = register_module("qkv", projection(options.d_model(), width));
  } else {
    q = register_module("q", projection(options.d_model(), width));
    k = register_module("k", projection(options.d_model(), width));
    v = register_module("v", projection(options.d_model(), width));
  }
  out = register_module("out", projection(width, options.d_model()));
}

Tensor MultiHeadAttention::forward(const Tensor& x) { return forward(x, Tensor()); }

Tensor MultiHeadAttention::forward(const Tensor& x, const Tensor& mask) { return attend(x, mask, 0); }

Tensor MultiHeadAttention::forward_last(const Tensor& x) {
  const Tensor y = attend(x, Tensor(), x.dim() == 3 ? x.size(1) - 1 : 0);  // [B, 1, d_model]
  return reshape(y, {y.size(0), y.size(2)});
}

Tensor MultiHeadAttention::attend(const Tensor& x, const Tensor& mask, int64_t first_query) {
  if (x.dim() != 3 || x.size(2) != options_.d_model() || x.size(1) == 0)
    throw std::invalid_argument(fmt::format("MultiHeadAttention: expected input [B, T, d_model={}], got {}",
                                            options_.d_model(), shape_str(x.shape())));
  const int64_t B = x.size(0), T = x.size(1), H = options_.num_heads(), Tq = T - first_query;
  auto split_heads = [&](const Tensor& t) {  // [B, T, H*Dh] -> [B, H, T, Dh]
    return permute(reshape(t, {B, T, H, d_head_}), {0, 2, 1, 3});
  };
  auto queries = [&](const Tensor& t) {
    return first_query > 0 ? narrow(t, 2, first_query, Tq) : t;
  };  // [B, H, Tq, Dh]
  Tensor keep = mask;
  if (options_.causal()) {
    const DType dt = mask.defined() ? mask.dtype() : DType::Int64;
    const Tensor causal = kernel::narrow(causal_mask(T, dt), 0, first_query, Tq);  // [Tq, T]
    keep = mask.defined() ? kernel::mul(kernel::ne(mask, Tensor::zeros({}, dt)), causal) : causal;
  }
  Tensor a;  // [B, H, Tq, Dh]
  if (qkv) {
    const Tensor h = split_heads(qkv->forward(x));
    a = scaled_dot_product_attention(queries(h), h, h, keep);
  } else {
    a = scaled_dot_product_attention(queries(split_heads(q->forward(x))), split_heads(k->forward(x)),
                                     split_heads(v->forward(x)), keep);
  }
  return out->forward(reshape(permute(a, {0, 2, 1, 3}), {B, Tq, H * d_head_}));  // [B, Tq, d_model]
}

std::string MultiHeadAttention::extra_repr() const {
  return fmt::format("d_model={}, num_heads={}, d_head={}, shared_qkv={}, causal={}, bias={}", options_.d_model(),
                     options_.num_heads(), d_head_, options_.shared_qkv(), options_.causal(), options_.bias());
}

}  // namespace pathgrad::nn
