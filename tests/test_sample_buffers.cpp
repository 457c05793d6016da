// SampleBuffers: the per-sample buffers' decay, weighted adds and kernel products against the
// plain formula, and independence of the thread count.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "explaind/sample_buffers.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
using namespace pathgrad::explaind;

namespace {
// Three parameter tensors; the first is large enough (30,000 entries) that add() splits its
// columns over two threads.
NamedTensors parameters() {
  return {{"w", Tensor::zeros({150, 200}, DType::Float64)},
          {"b", Tensor::zeros({5}, DType::Float64)},
          {"c", Tensor::zeros({2, 2, 2}, DType::Float64)}};
}

// Per-sample gradients of a batch of b samples, one tensor per parameter: [b, ...shape].
std::vector<Tensor> gradients(const ParamLayout& layout, int64_t b, Generator& gen) {
  std::vector<Tensor> g;
  for (int64_t p = 0; p < layout.count(); ++p) {
    Shape s = layout.shape(p);
    s.insert(s.begin(), b);
    g.push_back(rand_normal(s, 0.0, 1.0, gen, DType::Float64));
  }
  return g;
}

// The buffers after two steps, and the same computed by the plain formula into ref [N, P]:
// step 1 adds scale1 · a · g1, step 2 decays by d and adds scale2 · a · g2 (sample 3 twice).
struct TwoSteps {
  SampleBuffers buffers;
  std::vector<double> ref;
};

TwoSteps two_steps(int threads) {
  set_num_threads(threads);
  const ParamLayout layout(parameters());
  const int64_t N = 5, P = layout.size();
  Generator gen(11);
  TwoSteps s{SampleBuffers(N, layout, DType::Float64), std::vector<double>(static_cast<size_t>(N * P), 0.0)};
  const std::vector<double> scale1{0.5, -2.0, 1.0}, decay{0.9, 0.0, 1e-160}, scale2{1.5, 3.0, -0.25};
  const std::vector<int64_t> ids1{0, 3}, ids2{3, 1, 3};
  const std::vector<double> a1{1.0, 0.25}, a2{2.0, -1.0, 0.5};
  const auto add = [&](const std::vector<int64_t>& ids, const std::vector<double>& a,
                       const std::vector<double>& scale) {
    const int64_t b = static_cast<int64_t>(ids.size());
    const std::vector<Tensor> g = gradients(layout, b, gen);
    s.buffers.add(Tensor::from_vector(ids, {b}), g, Tensor::from_vector(a, {b}, DType::Float64), scale);
    for (int64_t p = 0; p < layout.count(); ++p)
      for (int64_t j = 0; j < b; ++j)
        for (int64_t k = 0; k < layout.numel(p); ++k)
          s.ref[ids[j] * P + layout.offset(p) + k] += scale[p] * g[p].data<double>()[j * layout.numel(p) + k] * a[j];
  };
  add(ids1, a1, scale1);
  s.buffers.decay(decay);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t p = 0; p < layout.count(); ++p)
      for (int64_t k = 0; k < layout.numel(p); ++k) s.ref[i * P + layout.offset(p) + k] *= decay[p];
  add(ids2, a2, scale2);
  set_num_threads(2);
  return s;
}
}  // namespace

TEST_CASE("sample buffers: decay and weighted adds give the plain formula's kernel products") {
  const TwoSteps s = two_steps(2);
  const ParamLayout layout(parameters());
  const int64_t N = 5, P = layout.size(), M = 3;
  Generator gen(5);
  const Tensor phi = rand_normal({M, P}, 0.0, 1.0, gen, DType::Float64);
  const Tensor k = s.buffers.products(phi);  // [M, N]
  REQUIRE(k.shape() == Shape{M, N});
  for (int64_t m = 0; m < M; ++m)
    for (int64_t i = 0; i < N; ++i) {
      double want = 0.0, scale = 0.0;
      for (int64_t q = 0; q < P; ++q) {
        const double term = phi.data<double>()[m * P + q] * s.ref[static_cast<size_t>(i * P + q)];
        want += term;
        scale += std::abs(term);
      }
      // float64 dot products of P = 30,013 terms, each entry rounded a few times on the way:
      // the error is below P·eps times the sum of |terms| (a loose but safe bound).
      CHECK(std::abs(k.at({m, i}) - want) <= static_cast<double>(P) * 2.3e-16 * scale);
    }
  // Samples 2 and 4 were never added to.
  for (int64_t m = 0; m < M; ++m) {
    CHECK(k.at({m, 2}) == 0.0);
    CHECK(k.at({m, 4}) == 0.0);
  }
}

TEST_CASE("sample buffers: adds split over threads are bit-identical to one thread") {
  const TwoSteps one = two_steps(1), two = two_steps(2);
  const Tensor a = one.buffers.state()[0].second, b = two.buffers.state()[0].second;
  CHECK(a.to_vector() == b.to_vector());
  CHECK(one.buffers.state()[1].second.to_vector() == two.buffers.state()[1].second.to_vector());
}

TEST_CASE("sample buffers: bad gradients, weights and ids are refused with the tensor named") {
  const ParamLayout layout(parameters());
  SampleBuffers buffers(4, layout, DType::Float64);
  Generator gen(1);
  std::vector<Tensor> g = gradients(layout, 2, gen);
  const Tensor ids = Tensor::from_vector(std::vector<int64_t>{0, 1}, {2});
  const Tensor a = Tensor::ones({2}, DType::Float64);
  const std::vector<double> scale{1.0, 1.0, 1.0};
  std::vector<Tensor> bad = g;
  bad[1] = Tensor::zeros({2, 6}, DType::Float64);
  CHECK_THROWS_WITH_AS(buffers.add(ids, bad, a, scale), doctest::Contains("gradient of 'b'"), std::invalid_argument);
  bad[1] = g[1].to(DType::Float32);
  CHECK_THROWS_WITH_AS(buffers.add(ids, bad, a, scale), doctest::Contains("float32"), std::invalid_argument);
  CHECK_THROWS_AS(buffers.add(ids, g, Tensor::ones({3}, DType::Float64), scale), std::invalid_argument);
  CHECK_THROWS_AS(buffers.add(ids, g, a, {1.0, 1.0}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(buffers.add(Tensor::from_vector(std::vector<int64_t>{0, 4}, {2}), g, a, scale),
                       doctest::Contains("sample id 4 outside the training set of 4"), std::out_of_range);
  // Nothing was added by the refused calls.
  CHECK(kernel::amax(kernel::abs(buffers.state()[0].second)).item() == 0.0);
}
