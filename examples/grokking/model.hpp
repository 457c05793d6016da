// The grokking transformer of the ExPLAIND paper (one attention layer with shared q/k/v heads and
// a residual ReLU MLP on modular addition), and its per-head explaind components.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "explaind/components.hpp"
#include "nn/attention.hpp"
#include "nn/embedding.hpp"
#include "nn/linear.hpp"
#include "nn/module.hpp"

namespace pathgrad::grokking {

struct ModelShape {
  int64_t vocab = 115;  // p + 2 tokens: the residues, '+', '='
  int64_t d_model = 64;
  int64_t heads = 4;
  int64_t d_head = 16;
  int64_t d_mlp = 512;
};

// x -> fc2(ReLU(fc1(x))): children "fc1" (d_model -> d_mlp) and "fc2" (d_mlp -> d_model).
class Mlp : public nn::Module {
 public:
  Mlp(int64_t d_model, int64_t d_mlp);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Linear> fc1, fc2;
};

// tokens int64 [B, T] -> log-probabilities [B, vocab] of the token after the last position:
//   a = attn(embed(tokens) * sqrt(d_model))   no positional encoding, unmasked, heads summed,
//                                             no residual around attention
//   h = a + ReLU(mlp(a))                      at the last position
//   log_softmax(decoder(h))                   bias-free decoder
// Children: "embed", "attn" (qkv.weight rows [h*Dh, (h+1)*Dh) and out.weight columns of the
// same range are head h), "mlp" (fc1, fc2) and "decoder" — the dotted names of every export.
// PyTorch's default initialisation, drawn from nn::default_generator() (seed it first).
//
// `queries` says how the attention reaches the last position. Queries::All (training) runs every
// position's query and output projection and keeps the last row: the paper's computation, whose
// float32 products the trajectory (and its PyTorch fixtures) depend on at rounding.
// Queries::Last (the float64 probe model) runs the last position's query alone
// (MultiHeadAttention::forward_last): the same function of the parameters and the same gradients,
// for about a third of the attention's work in every probe row the tracker evaluates.
class Transformer : public nn::Module {
 public:
  enum class Queries { All, Last };
  explicit Transformer(const ModelShape& shape, Queries queries = Queries::All);
  Tensor forward(const Tensor& tokens) override;
  const ModelShape& shape() const { return shape_; }

  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::MultiHeadAttention> attn;
  std::shared_ptr<Mlp> mlp;
  std::shared_ptr<nn::Linear> decoder;

 private:
  ModelShape shape_;
  Queries queries_;
};

// One explaind component per attention head: "attn.head<h>" = its rows of attn.qkv.weight and
// its columns of attn.out.weight.
std::vector<explaind::Component> head_components(const ModelShape& shape);

}  // namespace pathgrad::grokking
