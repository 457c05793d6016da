// nn::Embedding.
#include "nn/embedding.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"
#include "nn/init.hpp"

namespace pathgrad::nn {

Embedding::Embedding(const EmbeddingOptions& options) : options_(options) {
  check_positive("Embedding", "num_embeddings", options.num_embeddings());
  check_positive("Embedding", "embedding_dim", options.embedding_dim());
  weight = register_parameter("weight", Tensor::zeros({options.num_embeddings(), options.embedding_dim()}));
  init::normal_(weight, 0.0, 1.0, generator_or_default(options.generator()));
}

Tensor Embedding::forward(const Tensor& ids) {
  if (ids.dtype() != DType::Int64) throw_dtype_error("Embedding", ids.dtype(), "int64 token ids");
  return embedding(weight, ids);  // [...] -> [..., D]
}

std::string Embedding::extra_repr() const {
  return fmt::format("num_embeddings={}, embedding_dim={}", options_.num_embeddings(), options_.embedding_dim());
}

}  // namespace pathgrad::nn
