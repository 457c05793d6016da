// The grokking transformer (examples/grokking/model.hpp): its probe form (the last query alone)
// computes the same log-probabilities and gradients as its training form (every query).
#include <doctest/doctest.h>

#include <vector>

#include "autograd/ops.hpp"
#include "examples/grokking/model.hpp"
#include "nn/init.hpp"
#include "nn_helpers.hpp"

using namespace pathgrad;
using nn_test::max_abs_diff;

TEST_CASE("grokking Transformer: the last query alone gives the outputs and gradients of every query") {
  const grokking::ModelShape shape{.vocab = 13, .d_model = 8, .heads = 2, .d_head = 4, .d_mlp = 16};
  nn::manual_seed(11);
  grokking::Transformer all(shape);
  grokking::Transformer last(shape, grokking::Transformer::Queries::Last);
  all.to(DType::Float64);
  last.to(DType::Float64);
  const auto theta = all.named_parameters();
  const auto twin = last.named_parameters();
  REQUIRE(theta.size() == twin.size());
  for (size_t i = 0; i < theta.size(); ++i) twin[i].second.copy_(theta[i].second);

  Generator gen(5);
  std::vector<int64_t> ids;
  for (int i = 0; i < 6 * 3; ++i) ids.push_back(gen.randint(shape.vocab));
  const Tensor tokens = Tensor::from_vector(ids, {6, 3});
  const Tensor weights = nn_test::rand64({6, shape.vocab}, gen);                // a random output weighting
  const Tensor out_all = all.forward(tokens), out_last = last.forward(tokens);  // [6, vocab]
  // Float64, the same dot products in other batch shapes: a few ulps of values of at most ~10.
  CHECK(max_abs_diff(out_all, out_last) < 1e-12);

  sum(mul(out_all, weights)).backward();
  sum(mul(out_last, weights)).backward();
  for (size_t i = 0; i < theta.size(); ++i) {
    INFO(theta[i].first);
    CHECK(max_abs_diff(theta[i].second.grad(), twin[i].second.grad()) < 1e-12);
  }
}
