// The grokking transformer: layers, forward pass and per-head components.
#include "examples/grokking/model.hpp"

#include <cmath>
#include <string>

#include "autograd/ops.hpp"

namespace pathgrad::grokking {

Mlp::Mlp(int64_t d_model, int64_t d_mlp) {
  fc1 = register_module("fc1", std::make_shared<nn::Linear>(d_model, d_mlp));
  fc2 = register_module("fc2", std::make_shared<nn::Linear>(d_mlp, d_model));
}

Tensor Mlp::forward(const Tensor& x) { return fc2->forward(relu(fc1->forward(x))); }

Transformer::Transformer(const ModelShape& shape, Queries queries) : shape_(shape), queries_(queries) {
  embed = register_module("embed", std::make_shared<nn::Embedding>(shape.vocab, shape.d_model));
  attn = register_module(
      "attn",
      std::make_shared<nn::MultiHeadAttention>(
          nn::MultiHeadAttentionOptions(shape.d_model, shape.heads).d_head(shape.d_head).shared_qkv(true).bias(false)));
  mlp = register_module("mlp", std::make_shared<Mlp>(shape.d_model, shape.d_mlp));
  decoder = register_module("decoder",
                            std::make_shared<nn::Linear>(nn::LinearOptions(shape.d_model, shape.vocab).bias(false)));
}

Tensor Transformer::forward(const Tensor& tokens) {
  const Tensor x = embed->forward(tokens) * std::sqrt(static_cast<double>(shape_.d_model));  // [B, T, D]
  // Only the last position is decoded and nothing after the attention mixes positions, so the
  // MLP and the decoder run on that position alone: the outputs and every gradient are identical
  // to running them on all positions and decoding the last one.
  const Tensor a = queries_ == Queries::Last ? attn->forward_last(x)  // [B, D]
                                             : select(attn->forward(x), 1, tokens.size(1) - 1);
  const Tensor h = a + relu(mlp->forward(a));
  return log_softmax(decoder->forward(h), 1);  // [B, vocab]
}

std::vector<explaind::Component> head_components(const ModelShape& shape) {
  std::vector<explaind::Component> out;
  for (int64_t h = 0; h < shape.heads; ++h)
    out.push_back({"attn.head" + std::to_string(h),
                   {{"attn.qkv.weight", 0, h * shape.d_head, shape.d_head},
                    {"attn.out.weight", 1, h * shape.d_head, shape.d_head}}});
  return out;
}

}  // namespace pathgrad::grokking
