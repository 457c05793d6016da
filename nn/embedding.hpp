// nn::Embedding: a lookup table of learned vectors, one row per token id.
#pragma once

#include <cstdint>
#include <string>

#include "nn/module.hpp"
#include "nn/options.hpp"
#include "tensor/random.hpp"

namespace pathgrad::nn {

struct EmbeddingOptions {
  EmbeddingOptions(int64_t num_embeddings, int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  PATHGRAD_ARG(int64_t, num_embeddings);
  PATHGRAD_ARG(int64_t, embedding_dim);
  // Generator for the initial weights; null means nn::default_generator().
  PATHGRAD_ARG(Generator*, generator) = nullptr;
};

// Parameter: weight [num_embeddings, embedding_dim] ~ N(0, 1) (PyTorch's default).
// forward: int64 ids of any shape [...] with values in [0, num_embeddings) -> [..., embedding_dim],
// through the `embedding` primitive (per_sample_grad works for ids [B, ...]). Throws
// std::invalid_argument for a non-int64 index and std::out_of_range for an id outside the table.
class Embedding : public Module {
 public:
  explicit Embedding(const EmbeddingOptions& options);
  Embedding(int64_t num_embeddings, int64_t embedding_dim)
      : Embedding(EmbeddingOptions(num_embeddings, embedding_dim)) {}
  Tensor forward(const Tensor& ids) override;
  std::string extra_repr() const override;
  const EmbeddingOptions& options() const { return options_; }

  Tensor weight;  // [num_embeddings, embedding_dim]

 private:
  EmbeddingOptions options_;
};

}  // namespace pathgrad::nn
