// Attention: scaled dot-product attention and nn::MultiHeadAttention, including the grokking
// transformer's variant (one shared query/key/value projection per head).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nn/linear.hpp"
#include "nn/module.hpp"
#include "nn/options.hpp"
#include "tensor/random.hpp"

namespace pathgrad::nn {

// softmax(q k^T / sqrt(Dh) + blocked) v over the key dim, for every batch entry and head:
//   q [B, H, T, Dh], k [B, H, S, Dh], v [B, H, S, Dv] -> [B, H, T, Dv].
// `mask` is optional and a *keep mask*: any dtype, broadcastable to the scores [B, H, T, S],
// nonzero where query t may attend to key s and 0 where it may not (the masked scores become -inf,
// so blocked keys get exactly zero weight and zero gradient; like PyTorch's boolean attn_mask).
// It is not additive. A query with every key blocked gets NaN, as in PyTorch. Throws
// std::invalid_argument naming the shapes when q, k, v or the mask do not fit together.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask = Tensor());

// The causal keep mask [T, T] of `dtype`: 1 where key s <= query t, else 0.
Tensor causal_mask(int64_t T, DType dtype = DType::Int64);

struct MultiHeadAttentionOptions {
  MultiHeadAttentionOptions(int64_t d_model, int64_t num_heads) : d_model_(d_model), num_heads_(num_heads) {}
  PATHGRAD_ARG(int64_t, d_model);
  PATHGRAD_ARG(int64_t, num_heads);
  // Width of one head; 0 means d_model / num_heads (which must then divide evenly).
  PATHGRAD_ARG(int64_t, d_head) = 0;
  // true: the grokking transformer's heads — one projection per head serves as query, key and
  // value. false: the standard layer with separate query, key and value projections.
  PATHGRAD_ARG(bool, shared_qkv) = true;
  // Each position attends only to itself and earlier positions.
  PATHGRAD_ARG(bool, causal) = false;
  // Biases on every projection (the grokking transformer has none).
  PATHGRAD_ARG(bool, bias) = false;
  // Generator for the initial weights; null means nn::default_generator().
  PATHGRAD_ARG(Generator*, generator) = nullptr;
};

// Multi-head self-attention: x [B, T, d_model] -> [B, T, d_model], no residual. With H heads of
// width Dh (children in this order, each an nn::Linear with PyTorch's default init):
//
//   shared_qkv = true (default): "qkv" = Linear(d_model, H*Dh). Parameter qkv.weight [H*Dh, d_model];
//       head h's projection W_h is rows [h*Dh, (h+1)*Dh) (and qkv.bias entries [h*Dh, (h+1)*Dh)):
//       q_h = k_h = v_h = x W_h^T                                            [B, T, Dh]
//   shared_qkv = false: "q", "k", "v", each Linear(d_model, H*Dh) with the same row ranges per head.
//
//   a_h = scaled_dot_product_attention(q_h, k_h, v_h, mask)                   [B, T, Dh]
//   "out" = Linear(H*Dh, d_model). Parameter out.weight [d_model, H*Dh]; head h's output map O_h
//       is columns [h*Dh, (h+1)*Dh):
//   y = sum_h a_h O_h^T (+ out.bias, once)                                    [B, T, d_model]
//
// The heads are summed by the output matmul itself (concatenate the a_h, multiply by out.weight^T),
// and every parameter enters through `linear`, so per_sample_grad works for inputs [B, T, d_model].
// Throws std::invalid_argument naming the layer and the shape for an input that is not
// [B, T, d_model].
class MultiHeadAttention : public Module {
 public:
  explicit MultiHeadAttention(const MultiHeadAttentionOptions& options);
  MultiHeadAttention(int64_t d_model, int64_t num_heads)
      : MultiHeadAttention(MultiHeadAttentionOptions(d_model, num_heads)) {}
  // Self-attention with the causal mask when options.causal().
  Tensor forward(const Tensor& x) override;
  // Self-attention with an extra keep mask (see scaled_dot_product_attention) broadcastable to
  // [B, H, T, T], e.g. [B, 1, 1, T] for padding; combined with the causal mask when options.causal().
  Tensor forward(const Tensor& x, const Tensor& mask);
  // Self-attention read at the last position only: [B, T, d_model] -> [B, d_model], equal to
  // forward(x) at position T - 1 (the causal mask keeps every position there), without the other
  // positions' queries and outputs — for a model that decodes the last position alone.
  Tensor forward_last(const Tensor& x);
  std::string extra_repr() const override;
  const MultiHeadAttentionOptions& options() const { return options_; }
  int64_t d_head() const { return d_head_; }

  std::shared_ptr<Linear> qkv;      // shared_qkv only, else null
  std::shared_ptr<Linear> q, k, v;  // !shared_qkv only, else null
  std::shared_ptr<Linear> out;

 private:
  // The outputs [B, T - first_query, d_model] of the queries at positions first_query .. T - 1.
  Tensor attend(const Tensor& x, const Tensor& mask, int64_t first_query);

  MultiHeadAttentionOptions options_;
  int64_t d_head_;
};

}  // namespace pathgrad::nn
