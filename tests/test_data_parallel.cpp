// Tests for optim/shard_plan, optim/data_parallel and the one-rank Communicator: the partition of
// a batch into shards, the shard gradients added in shard order (one shard: exactly the plain
// gradient; several: the plain one to rounding, bounded below), and the errors. Several ranks
// are tested end to end by tests/test_mpi.cpp under mpirun.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.hpp"
#include "nn/init.hpp"
#include "nn/linear.hpp"
#include "nn/loss.hpp"
#include "optim/data_parallel.hpp"
#include "tensor/kernels.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
using namespace pathgrad::optim;

namespace {

// A two-layer classifier on 13 random samples (float32 or float64) and its mean NLL loss.
struct Problem {
  nn::Linear first{5, 7}, second{7, 3};
  Tensor x, y;
  explicit Problem(DType dtype) {
    nn::manual_seed(3);
    first.to(dtype);
    second.to(dtype);
    Generator gen(11);
    x = rand_normal({13, 5}, 0, 1, gen, dtype);
    y = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 1, 2, 1}, {13});
  }
  NamedTensors params() const {
    NamedTensors p;
    for (const auto& [name, t] : first.named_parameters()) p.emplace_back("first." + name, t);
    for (const auto& [name, t] : second.named_parameters()) p.emplace_back("second." + name, t);
    return p;
  }
  // The batch rows [begin, end)'s share of the mean loss, backward already run.
  Tensor backward(int64_t begin, int64_t end) {
    const Tensor out = log_softmax(second.forward(relu(first.forward(kernel::narrow(x, 0, begin, end - begin)))), 1);
    const Tensor loss = nn::nll_loss(out, kernel::narrow(y, 0, begin, end - begin), nn::Reduction::Sum) *
                        (1.0 / static_cast<double>(x.size(0)));
    loss.backward();
    return loss;
  }
  // The gradients backward_over_shards leaves with `shards` shards, and the summed loss.
  std::pair<NamedTensors, double> sharded(int64_t shards) {
    const ShardPlan plan(x.size(0), shards, 0, 1, "--shards");
    const std::vector<double> sums = backward_over_shards(
        params(), plan, Communicator::world(), 1,
        [&](int64_t begin, int64_t end) { return std::vector<double>{backward(begin, end).item()}; });
    return {grads(), sums[0]};
  }
  NamedTensors grads() const {
    NamedTensors g;
    for (const auto& [name, p] : params()) g.emplace_back(name, p.grad().clone());
    return g;
  }
  void zero_grad() const {
    for (const auto& [name, p] : params()) p.set_grad(Tensor());
  }
};

}  // namespace

TEST_CASE("a shard plan covers the batch once, in shard order, whatever the number of ranks") {
  for (int ranks = 1; ranks <= 4; ++ranks) {
    CAPTURE(ranks);
    const ShardPlan plan(10, 4, 0, ranks, "--shards");
    CHECK(plan.begin(0) == 0);
    CHECK(plan.end(3) == 10);
    for (int64_t k = 0; k < 4; ++k) {
      CHECK(plan.end(k) - plan.begin(k) >= 2);  // 10 / 4 rounded down
      CHECK(plan.end(k) - plan.begin(k) <= 3);
      if (k > 0) CHECK(plan.begin(k) == plan.end(k - 1));
    }
    CHECK(plan.first_shard_of(0) == 0);
    CHECK(plan.first_shard_of(ranks) == 4);
    for (int r = 0; r < ranks; ++r) CHECK(plan.first_shard_of(r + 1) > plan.first_shard_of(r));  // never idle
  }
  const ShardPlan last(10, 4, 2, 3, "--shards");
  CHECK(last.first_shard() == 2);
  CHECK(last.end_shard() == 4);
}

TEST_CASE("a shard plan names the setting when the shards cannot be spread over the ranks") {
  CHECK_THROWS_WITH_AS(
      ShardPlan(10, 1, 0, 2, "--shards"),
      doctest::Contains("--shards 1: a batch of 10 samples over 2 ranks needs between 2 and 10 shards"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(ShardPlan(10, 11, 0, 1, "--shards"), doctest::Contains("--shards 11"), std::invalid_argument);
  CHECK_THROWS_AS(ShardPlan(10, 2, 2, 2, "--shards"), std::invalid_argument);
}

TEST_CASE("one shard gives exactly the plain gradient and mean loss") {
  Problem problem(DType::Float32);
  const double plain_loss = problem.backward(0, 13).item();
  const NamedTensors plain = problem.grads();
  problem.zero_grad();
  const auto [grads, loss] = problem.sharded(1);
  CHECK(loss == plain_loss);
  for (size_t i = 0; i < plain.size(); ++i) {
    INFO(plain[i].first);
    CHECK(grads[i].second.to_vector() == plain[i].second.to_vector());
  }
}

TEST_CASE("several shards give the plain gradient to the rounding of a reordered sum") {
  // Float64. Each entry of the gradient is a sum over the 13 samples' terms t_i; the plain pass
  // and the sharded one add them in different orders (and BLAS may block rows differently), each
  // with an error of at most (13 − 1)·u·Σ|t_i| to first order (u = 2^-53). The terms themselves
  // are row-local chains of at most 10 roundings each (log_softmax, two layers' products of
  // length <= 7, relu), which may round differently in the two passes: at most 2·10·u·|t_i|. So
  // |sharded − plain| <= (2·12 + 2·10)·u·Σ|t_i| <= 64·u·Σ|t_i|, with Σ|t_i| formed from the
  // per-sample gradients (13 one-sample shards, each kept apart).
  Problem problem(DType::Float64);
  problem.backward(0, 13);
  const NamedTensors plain = problem.grads();
  std::vector<std::vector<double>> abs_terms;
  for (int64_t i = 0; i < 13; ++i) {
    problem.zero_grad();
    problem.backward(i, i + 1);
    const NamedTensors g = problem.grads();
    for (size_t j = 0; j < g.size(); ++j) {
      const std::vector<double> v = g[j].second.to_vector();
      if (abs_terms.size() <= j) abs_terms.emplace_back(v.size(), 0.0);
      for (size_t e = 0; e < v.size(); ++e) abs_terms[j][e] += std::abs(v[e]);
    }
  }
  for (const int64_t shards : {2, 5, 13}) {
    CAPTURE(shards);
    const NamedTensors grads = problem.sharded(shards).first;
    for (size_t j = 0; j < plain.size(); ++j) {
      const std::vector<double> a = grads[j].second.to_vector(), b = plain[j].second.to_vector();
      for (size_t e = 0; e < a.size(); ++e) CHECK(std::abs(a[e] - b[e]) <= 64 * std::ldexp(1.0, -53) * abs_terms[j][e]);
    }
  }
}

TEST_CASE("a parameter without a gradient in every shard keeps it undefined; wrong value counts are refused") {
  Problem problem(DType::Float32);
  Tensor unused = Tensor::from_vector(std::vector<double>{1, 2}, {2}).set_requires_grad();
  NamedTensors params = problem.params();
  params.emplace_back("unused", unused);
  const ShardPlan plan(13, 3, 0, 1, "--shards");
  backward_over_shards(params, plan, Communicator::world(), 0, [&](int64_t begin, int64_t end) {
    problem.backward(begin, end);
    return std::vector<double>{};
  });
  CHECK_FALSE(unused.grad().defined());
  CHECK(params[0].second.grad().defined());
  CHECK_THROWS_WITH_AS(backward_over_shards(params, plan, Communicator::world(), 2,
                                            [&](int64_t, int64_t) { return std::vector<double>{1.0}; }),
                       doctest::Contains("shard 0 returned 1 values, expected 2"), std::invalid_argument);
}

TEST_CASE("a program not started by mpirun is rank 0 of 1, in every build") {
  const Communicator& world = Communicator::world();
  CHECK(world.rank() == 0);
  CHECK(world.size() == 1);
  CHECK(world.is_root());
  CHECK(world.all_gather({1.5, 2.5}, {2}) == std::vector<double>{1.5, 2.5});
  CHECK(world.any(true));
  CHECK_FALSE(world.any(false));
  CHECK_NOTHROW(require_same_on_every_rank(world, "settings", "the settings"));
  CHECK_THROWS_AS(world.all_gather({1.0}, {2}), std::invalid_argument);
  CHECK(world.gather({1.5, 2.5}, {2}) == std::vector<double>{1.5, 2.5});  // rank 0 receives its own
  CHECK_THROWS_AS(world.gather({1.0}, {2}), std::invalid_argument);
  std::vector<double> values = {3.5, -1.0};
  world.broadcast(values);  // rank 0's values, unchanged
  CHECK(values == std::vector<double>{3.5, -1.0});
}
