// Tests for tensor/parallel.hpp: parallel_for's contract, and that every kernel split over
// threads (matrix products included) gives bit-identical results with one thread and with two.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

namespace {

// Restores the thread count on scope exit.
class Threads {
 public:
  explicit Threads(int n) : before_(num_threads()) { set_num_threads(n); }
  ~Threads() { set_num_threads(before_); }
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;

 private:
  int before_;
};

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<size_t>(a.numel()) * dtype_size(a.dtype())) == 0;
}

// f() computed with one thread and with two: the same bits, or (matrix products, whose OpenBLAS
// kernels depend on the block size) the same values to `rel` of the largest magnitude.
void check_thread_invariant(const char* what, const std::function<Tensor()>& f, double rel = 0) {
  Tensor one, two;
  {
    Threads t(1);
    one = f();
  }
  {
    Threads t(2);
    two = f();
  }
  INFO(std::string(what));
  if (rel == 0) {
    CHECK(same_bits(one, two));
    return;
  }
  REQUIRE(one.shape() == two.shape());
  const Tensor a = one.to(DType::Float64), b = two.to(DType::Float64);
  const double scale = K::amax(K::abs(a), {}).item();
  CHECK(K::amax(K::abs(K::sub(a, b)), {}).item() <= rel * scale);
}

}  // namespace

TEST_CASE("parallel_for covers its range once, rethrows, and runs nested loops inline") {
  Threads t(2);
  CHECK(num_threads() == 2);
  for (int64_t n : {0, 1, 7, 1000, 100003}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    parallel_for(n, 64, [&](int64_t b, int64_t e) {
      CHECK(b < e);
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
    int64_t once = 0;
    for (auto& h : hits) once += h.load() == 1;
    CHECK(once == n);
  }
  CHECK_THROWS_WITH_AS(parallel_for(1000, 10,
                                    [](int64_t b, int64_t) {
                                      if (b > 0) throw std::runtime_error("chunk failed");
                                    }),
                       "chunk failed", std::runtime_error);
  std::atomic<int64_t> inner{0};
  parallel_for(4, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) parallel_for(100, 1, [&](int64_t x, int64_t y) { inner += y - x; });
  });
  CHECK(inner.load() == 400);
  CHECK_THROWS_AS(set_num_threads(0), std::invalid_argument);
}

TEST_CASE("kernels split over threads are bit-identical to one thread") {
  Generator gen(5);
  const Tensor a = rand_normal({64, 33, 40}, 0, 1, gen);  // 84,480 elements
  const Tensor b = rand_normal({33, 40}, 0, 1, gen);
  const Tensor a64 = rand_normal({300, 257}, 0, 1, gen, DType::Float64);
  check_thread_invariant("add, broadcast", [&] { return K::add(a, b); });
  check_thread_invariant("mul, permuted operand", [&] {
    return K::mul(K::permute(a, {2, 0, 1}), K::permute(a, {2, 0, 1}));
  });
  check_thread_invariant("exp, contiguous", [&] { return K::exp(a64); });
  check_thread_invariant("tanh, transposed", [&] { return K::tanh(K::transpose(a64, 0, 1)); });
  check_thread_invariant("copy, permuted", [&] { return K::permute(a, {1, 0, 2}).contiguous(); });
  check_thread_invariant("to float64", [&] { return K::permute(a, {1, 2, 0}).to(DType::Float64); });
  check_thread_invariant("sum over dim 0", [&] { return K::sum(a, {0}); });
  check_thread_invariant("sum over dim 1", [&] { return K::sum(a, {1}); });
  check_thread_invariant("sum over the last dim", [&] { return K::sum(a64, {1}); });
  check_thread_invariant("amax", [&] { return K::amax(a, {2}); });
  check_thread_invariant("softmax", [&] { return K::softmax(a, 1); });
  check_thread_invariant("log_softmax", [&] { return K::log_softmax(a64, 1); });
  check_thread_invariant("add_", [&] {
    Tensor d = a.clone();
    K::add_(d, a, 0.5);
    return d;
  });
  const Tensor wide = rand_normal({96, 200}, 0, 1, gen), tall = rand_normal({200, 900}, 0, 1, gen);
  check_thread_invariant(
      "matmul, split by columns", [&] { return K::matmul(wide, tall); }, 1e-6);
  check_thread_invariant(
      "matmul, split by rows", [&] { return K::matmul(K::transpose(tall, 0, 1), K::transpose(wide, 0, 1)); }, 1e-6);
  check_thread_invariant(
      "matmul, float64", [&] { return K::matmul(wide.to(DType::Float64), tall.to(DType::Float64)); }, 1e-14);
  check_thread_invariant("batched tiny products", [&] { return K::matmul(a, K::transpose(a, 1, 2)); });
  const Tensor x = rand_normal({16, 8, 20, 18}, 0, 1, gen);
  const K::Conv2dGeometry geo{3, 3, 1, 1, 1, 1}, strided{3, 2, 2, 1, 0, 1};
  check_thread_invariant("im2col", [&] { return K::im2col(x, geo); });
  check_thread_invariant("im2col, stride 2", [&] { return K::im2col(x, strided); });
  const Tensor cols = rand_normal(K::im2col(x, geo).shape(), 0, 1, gen);
  check_thread_invariant("col2im", [&] { return K::col2im(cols, x.shape(), geo); });
  check_thread_invariant("max_pool2d", [&] { return K::max_pool2d(x, 2, 2, 2, 2).values; });
  const K::PoolResult pooled = K::max_pool2d(x, 3, 3, 2, 2);
  const Tensor g = rand_normal(pooled.values.shape(), 0, 1, gen);
  check_thread_invariant("max_pool2d_backward", [&] { return K::max_pool2d_backward(g, pooled.indices, x.shape()); });
}
