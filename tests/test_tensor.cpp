// Tests for tensor/: creation, views, every kernel of tensor/kernels.hpp against a direct
// element-by-element computation, error messages, the random generator and printing.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"
#include "tensor/random.hpp"
#include "tensor/tensor.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

namespace {

using Index = std::vector<int64_t>;

// Every multi-index of `shape`, row-major.
std::vector<Index> all_indices(const Shape& shape) {
  std::vector<Index> out;
  const int64_t n = numel(shape);
  for (int64_t flat = 0; flat < n; ++flat) {
    Index idx(shape.size());
    int64_t rest = flat;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      idx[d] = rest % shape[d];
      rest /= shape[d];
    }
    out.push_back(idx);
  }
  return out;
}

// The index of a broadcast operand of `shape` that feeds output index `out`.
Index broadcast_index(const Index& out, const Shape& shape) {
  Index idx(shape.size());
  const size_t lead = out.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) idx[d] = shape[d] == 1 ? 0 : out[lead + d];
  return idx;
}

Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s, DType::Float64); }

Tensor randn(const Shape& s, Generator& g, DType dtype = DType::Float64) { return rand_normal(s, 0, 1, g, dtype); }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// Checks a binary kernel against f applied element by element on the broadcast indices.
void check_binary(const std::function<Tensor(const Tensor&, const Tensor&)>& kernel,
                  const std::function<double(double, double)>& f, const Tensor& a, const Tensor& b) {
  const Tensor out = kernel(a, b);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "test");
  REQUIRE(out.shape() == shape);
  CHECK(out.dtype() == a.dtype());
  for (const Index& i : all_indices(shape)) {
    const double want = f(a.at(broadcast_index(i, a.shape())), b.at(broadcast_index(i, b.shape())));
    INFO("at flat index of ", shape_str(i));
    if (a.dtype() == DType::Float32)
      CHECK(out.at(i) == static_cast<double>(static_cast<float>(want)));
    else
      CHECK(out.at(i) == want);
  }
}

// Checks a unary kernel against f, element by element.
void check_unary(const std::function<Tensor(const Tensor&)>& kernel, const std::function<double(double)>& f,
                 const Tensor& a, double tol = 0) {
  const Tensor out = kernel(a);
  REQUIRE(out.shape() == a.shape());
  for (const Index& i : all_indices(a.shape())) CHECK(std::abs(out.at(i) - f(a.at(i))) <= tol);
}

// A reduction computed directly: combine over the elements whose index agrees outside `dims`.
Tensor reduce_ref(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, double init,
                  const std::function<double(double, double)>& combine) {
  std::vector<bool> reduced(a.dim(), dims.empty());
  for (int64_t d : dims) reduced[d < 0 ? d + a.dim() : d] = true;
  Shape kept_shape;
  for (int64_t d = 0; d < a.dim(); ++d)
    if (!reduced[d] || keepdim) kept_shape.push_back(reduced[d] ? 1 : a.size(d));
  Tensor out = Tensor::full(kept_shape, init, DType::Float64);
  for (const Index& i : all_indices(a.shape())) {
    Index o;
    for (int64_t d = 0; d < a.dim(); ++d)
      if (!reduced[d])
        o.push_back(i[d]);
      else if (keepdim)
        o.push_back(0);
    out.set(o, combine(out.at(o), a.at(i)));
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- the Tensor handle
TEST_CASE("creation and element access") {
  Tensor t = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.strides() == Shape{3, 1});
  CHECK(t.at({1, 2}) == 6.0);
  CHECK(t.at({-1, -1}) == 6.0);
  CHECK(t.size(-1) == 3);
  CHECK(Tensor::eye(3).at({1, 1}) == 1.0);
  CHECK(Tensor::eye(3).at({1, 0}) == 0.0);
  CHECK(Tensor::arange(4, DType::Int64).to_vector() == std::vector<double>{0, 1, 2, 3});
  CHECK(Tensor::full({2}, 7.5, DType::Float64).to_vector() == std::vector<double>{7.5, 7.5});
  CHECK(Tensor::ones({2, 2}, DType::UInt8).to_vector() == std::vector<double>{1, 1, 1, 1});
  CHECK(Tensor::zeros({3}).to_vector() == std::vector<double>{0, 0, 0});
  CHECK(Tensor::scalar(3.0).dim() == 0);
  CHECK(Tensor::scalar(3.0).item() == 3.0);
  const float raw[] = {1.5f, -2.5f};
  CHECK(Tensor::from_buffer(raw, {2}, DType::Float32).to_vector() == std::vector<double>{1.5, -2.5});
  CHECK(Tensor::from_vector(std::vector<float>{1, 2}, {2, 1}).dtype() == DType::Float32);
  CHECK_FALSE(Tensor().defined());
  CHECK_THROWS_WITH_AS(Tensor::from_vector(std::vector<double>{1, 2}, {3}),
                       doctest::Contains("2 values do not fill shape [3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(t.at({2, 0}), doctest::Contains("index 2 out of range for dim 0 of shape [2, 3]"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(t.at({0}), doctest::Contains("index with 1 entries"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(t.item(), doctest::Contains("shape [2, 3] has 6 elements"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(t.size(2), doctest::Contains("size: dim 2 is out of range"), std::out_of_range);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2, -1}), doctest::Contains("negative size in shape [2, -1]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(t.data<float>(), doctest::Contains("got dtype float64, expected float32"),
                       std::invalid_argument);
  CHECK_THROWS_AS(Tensor().shape(), std::logic_error);
}

TEST_CASE("shapes whose element count or strides overflow int64 are refused, even with a zero dim") {
  const int64_t big = int64_t{1} << 62;
  CHECK(numel({0, big, big}) == 0);
  CHECK_THROWS_WITH_AS(numel({big, big, 0}),
                       doctest::Contains("shape [4611686018427387904, 4611686018427387904, 0] is too large"),
                       std::invalid_argument);
  CHECK_THROWS_AS(contiguous_strides({0, big, big}), std::invalid_argument);
  CHECK(contiguous_strides({0, big, 1}) == Shape{big, 1, 1});
  CHECK_THROWS_AS(Tensor::zeros({0, big, big}), std::invalid_argument);
  CHECK(contiguous_bytes({2, 3}, 8) == 48);
  CHECK(contiguous_bytes({0, big}, 1) == 0);
  CHECK(contiguous_bytes({0, big}, 2) == std::nullopt);  // byte strides beyond 2^63
  CHECK(contiguous_bytes({0, big, big}, 1) == std::nullopt);
  CHECK(contiguous_bytes({-1}, 1) == std::nullopt);
  CHECK(contiguous_bytes({}, 8) == 8);
}

TEST_CASE("empty tensors: creation from null or empty buffers, copies and conversions") {
  for (const Shape& shape : {Shape{0}, Shape{0, 3}, Shape{4, 0, 2}}) {
    INFO(shape_str(shape));
    const Tensor a = Tensor::from_buffer(nullptr, shape, DType::Float64);
    CHECK(a.shape() == shape);
    CHECK(a.numel() == 0);
    CHECK(Tensor::from_vector(std::vector<float>{}, shape).numel() == 0);
    CHECK(Tensor::from_vector(std::vector<int64_t>{}, shape).numel() == 0);
    CHECK(Tensor::from_vector(std::vector<double>{}, shape, DType::UInt8).numel() == 0);
    const Tensor b = Tensor::zeros(shape, DType::Float64);
    b.copy_(a);
    CHECK(a.clone().shape() == shape);
    CHECK(a.contiguous().numel() == 0);
    CHECK(a.to(DType::Float32).to_vector().empty());
  }
}

TEST_CASE("views share storage; copies and conversions do not") {
  Tensor t = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor tt = K::transpose(t, 0, 1);
  CHECK_FALSE(tt.is_contiguous());
  CHECK(tt.at({2, 1}) == 6.0);
  CHECK(tt.contiguous().to_vector() == std::vector<double>{1, 4, 2, 5, 3, 6});
  Tensor n = K::narrow(t, 1, 1, 2);
  n.set({0, 0}, 20.0);
  CHECK(t.at({0, 1}) == 20.0);
  Tensor e = K::expand(K::reshape(Tensor::arange(3, DType::Float64), {1, 3}), {4, 3});
  CHECK(e.at({3, 2}) == 2.0);
  CHECK(e.strides() == Shape{0, 1});

  Tensor c = t.clone();
  c.set({0, 0}, -1.0);
  CHECK(t.at({0, 0}) == 1.0);
  CHECK(t.contiguous().same(t));
  Tensor d = t.detach();
  CHECK_FALSE(d.same(t));
  d.set({1, 0}, 40.0);
  CHECK(t.at({1, 0}) == 40.0);
  CHECK_FALSE(Tensor().detach().defined());

  Tensor i = f64({1.9, -1.9, 250.0}, {3}).to(DType::Int64);  // C++ conversion: truncation
  CHECK(i.dtype() == DType::Int64);
  CHECK(i.to_vector() == std::vector<double>{1, -1, 250});
  CHECK(i.to(DType::UInt8).to_vector() == std::vector<double>{1, 255, 250});

  Tensor dst = Tensor::zeros({3, 2}, DType::Float32);
  dst.copy_(tt);  // other dtype, non-contiguous source
  CHECK(dst.to_vector() == std::vector<double>{1, 40, 20, 5, 3, 6});
  CHECK_THROWS_WITH_AS(dst.copy_(t), doctest::Contains("source shape [2, 3] differs from destination [3, 2]"),
                       std::invalid_argument);
  K::narrow(dst, 0, 1, 1).fill_(9);
  CHECK(dst.to_vector() == std::vector<double>{1, 40, 9, 9, 3, 6});

  Tensor v = t.as_strided({2}, {4}, 0);  // the diagonal
  CHECK(v.to_vector() == std::vector<double>{1, 5});
  CHECK_THROWS_WITH_AS(t.as_strided({3}, {4}, 0), doctest::Contains("exceeds storage of 6 elements"),
                       std::out_of_range);
}

TEST_CASE("contiguity of views") {
  Tensor t = Tensor::zeros({2, 3, 4});
  CHECK(t.is_contiguous());
  CHECK(K::narrow(t, 0, 1, 1).is_contiguous());
  CHECK_FALSE(K::narrow(t, 2, 1, 2).is_contiguous());
  CHECK_FALSE(K::permute(t, {1, 0, 2}).is_contiguous());
  CHECK(K::unsqueeze(t, 1).is_contiguous());
  CHECK(K::squeeze(K::narrow(t, 1, 2, 1), 1).shape() == Shape{2, 4});
}

TEST_CASE("large storages are recycled, zero-filled on request, and the cache can be released") {
  release_storage_cache();
  CHECK(storage_cache_bytes() == 0);
  const Shape big{1 << 16};  // 256 KiB of float32
  const void* first = nullptr;
  {
    Tensor t = Tensor::full(big, 7.0);
    first = t.raw_data();
  }
  CHECK(storage_cache_bytes() == (std::size_t{1} << 18));
  Tensor again = Tensor::zeros(big);
  CHECK(again.raw_data() == first);  // the same buffer, handed back
  CHECK(storage_cache_bytes() == 0);
  CHECK(K::amax(K::abs(again)).item() == 0.0);  // and zero-filled although it held 7s
  again = Tensor();                             // back to the cache, with the temporary of abs() above
  const std::size_t cached = storage_cache_bytes();
  CHECK(cached == (std::size_t{2} << 18));
  { Tensor small = Tensor::ones({16}); }  // small buffers go straight back to malloc
  CHECK(storage_cache_bytes() == cached);
  release_storage_cache();
  CHECK(storage_cache_bytes() == 0);
  // Sizes of one class share a buffer: 300,000 and 295,000 bytes both take 20 × 2^14 = 327,680
  // bytes (four significant bits); 290,000 bytes is another class (18 × 2^14).
  const auto cached_buffer = [] {  // a freed 300,000-byte tensor's buffer, now in the cache
    const Tensor t = Tensor::full({37500}, 5.0, DType::Float64);
    return t.raw_data();
  };
  const void* larger = cached_buffer();
  CHECK(storage_cache_bytes() == 327680);
  {
    const Tensor smaller = Tensor::zeros({36875}, DType::Float64);  // 295,000 bytes
    CHECK(smaller.raw_data() == larger);
    CHECK(storage_cache_bytes() == 0);
    CHECK(K::amax(K::abs(smaller)).item() == 0.0);  // zero-filled although it held 5s
  }
  release_storage_cache();
  larger = cached_buffer();
  const Tensor other_class = Tensor::empty({36250}, DType::Float64);  // 290,000 bytes
  CHECK(other_class.raw_data() != larger);
  CHECK(storage_cache_bytes() == 327680);
  release_storage_cache();
}

TEST_CASE("storage counts live bytes, meters their peak, and caches little beyond the most ever live") {
  release_storage_cache();
  const std::size_t base = storage_live_bytes();
  // Buffers of 2^28 bytes (exact size classes, larger than anything earlier tests hold at once),
  // never touched: they take address space, not memory.
  const int64_t n = int64_t{1} << 26;  // float32 elements
  const std::size_t big = std::size_t{1} << 28;
  const StoragePeakMeter outer;
  const void* first = nullptr;
  {
    const StoragePeakMeter inner;
    const Tensor a = Tensor::empty({n});
    first = a.raw_data();
    CHECK(storage_live_bytes() == base + big);
    { const Tensor b = Tensor::empty({n}); }
    CHECK(inner.peak() == base + 2 * big);
    CHECK(storage_live_bytes() == base + big);
    CHECK(storage_cache_bytes() == big);
  }
  CHECK(outer.peak() == base + 2 * big);  // an enclosing meter sees the peak inside the inner one
  CHECK(storage_live_bytes() == base);
  CHECK(storage_cache_bytes() == 2 * big);  // b, then a, freed in that order
  {
    // A fresh buffer of another size class: live + cached (base + 2.5 big) would exceed the most
    // ever live and an eighth (9/8 (base + 2 big), base being far below big), so the least
    // recently freed buffer (b's) goes back to the system.
    const Tensor c = Tensor::empty({n / 2});
    CHECK(storage_cache_bytes() == big);
    const Tensor d = Tensor::empty({n});  // a's buffer, still cached
    CHECK(d.raw_data() == first);
    CHECK(storage_cache_bytes() == 0);
  }
  release_storage_cache();
}

TEST_CASE("requires_grad only for floating-point leaves") {
  Tensor i = Tensor::arange(3, DType::Int64);
  CHECK_THROWS_WITH_AS(i.set_requires_grad(), doctest::Contains("set_requires_grad: got dtype int64"),
                       std::invalid_argument);
  CHECK_THROWS_AS(Tensor::zeros({2}, DType::UInt8).set_requires_grad(), std::invalid_argument);
  Tensor f = Tensor::zeros({2}, DType::Float64);
  f.set_requires_grad();
  CHECK(f.requires_grad());
  CHECK(f.is_leaf());
  CHECK_THROWS_WITH_AS(f.set_grad(Tensor::zeros({3}, DType::Float64)), doctest::Contains("gradient shape [3] differs"),
                       std::invalid_argument);
}

TEST_CASE("printing") {
  CHECK(f64({1, 2.5, -3, 4e-7}, {2, 2}).to_string() == "Tensor([[1, 2.5], [-3, 4e-07]], shape=[2, 2], dtype=float64)");
  CHECK(Tensor::arange(3, DType::Int64).to_string() == "Tensor([0, 1, 2], shape=[3], dtype=int64)");
  CHECK(Tensor::scalar(0.125).to_string() == "Tensor(0.125, shape=[], dtype=float32)");
  CHECK(Tensor::zeros({2, 0}).to_string() == "Tensor([[], []], shape=[2, 0], dtype=float32)");
  CHECK(K::transpose(f64({1, 2, 3, 4}, {2, 2}), 0, 1).to_string() ==
        "Tensor([[1, 3], [2, 4]], shape=[2, 2], dtype=float64)");
  CHECK(Tensor().to_string() == "Tensor(undefined)");
  CHECK(Tensor::ones({1}, DType::UInt8).to_string() == "Tensor([1], shape=[1], dtype=uint8)");
}

// ---------------------------------------------------------------- elementwise
TEST_CASE("binary kernels broadcast like NumPy") {
  Generator g(1);
  const Tensor base = randn({4, 3}, g);
  // (a, b) pairs: same shape, row/column broadcast, scalar, leading dims, non-contiguous.
  const std::vector<std::pair<Tensor, Tensor>> pairs = {
      {randn({2, 3}, g), randn({2, 3}, g)},
      {randn({3, 1}, g), randn({2}, g)},
      {randn({2, 3}, g), randn({}, g)},
      {randn({}, g), randn({2, 3}, g)},
      {randn({2, 1, 4}, g), randn({3, 1}, g)},
      {K::transpose(base, 0, 1), randn({3, 1}, g)},
      {K::narrow(base, 1, 1, 2), K::expand(randn({1, 2}, g), {4, 2})},
      {randn({5, 1, 3}, g), K::transpose(randn({3, 2}, g), 0, 1)},
  };
  for (const auto& [a, b] : pairs) {
    INFO(shape_str(a.shape()), " with ", shape_str(b.shape()));
    check_binary(
        K::add, [](double x, double y) { return x + y; }, a, b);
    check_binary(
        K::sub, [](double x, double y) { return x - y; }, a, b);
    check_binary(
        K::mul, [](double x, double y) { return x * y; }, a, b);
    check_binary(
        K::div, [](double x, double y) { return x / y; }, a, b);
    check_binary(
        K::maximum, [](double x, double y) { return std::max(x, y); }, a, b);
    check_binary(
        K::minimum, [](double x, double y) { return std::min(x, y); }, a, b);
    check_binary(
        K::lt, [](double x, double y) { return double(x < y); }, a, b);
    check_binary(
        K::gt, [](double x, double y) { return double(x > y); }, a, b);
    const Tensor pa = K::abs(a);
    check_binary(
        K::pow, [](double x, double y) { return std::pow(x, y); }, pa, b);
  }
  // float32 rounds like float arithmetic.
  const Tensor a32 = randn({3, 4}, g, DType::Float32), b32 = randn({4}, g, DType::Float32);
  check_binary(
      K::mul, [](double x, double y) { return double(float(x) * float(y)); }, a32, b32);
  check_binary(
      K::add, [](double x, double y) { return double(float(x) + float(y)); }, a32, b32);
}

TEST_CASE("comparisons return 0/1 in the operands' dtype; ties are handled exactly") {
  const Tensor a = f64({1, 2, 3, 2}, {4}), b = f64({2}, {1});
  CHECK(K::eq(a, b).to_vector() == std::vector<double>{0, 1, 0, 1});
  CHECK(K::ne(a, b).to_vector() == std::vector<double>{1, 0, 1, 0});
  CHECK(K::lt(a, b).to_vector() == std::vector<double>{1, 0, 0, 0});
  CHECK(K::le(a, b).to_vector() == std::vector<double>{1, 1, 0, 1});
  CHECK(K::gt(a, b).to_vector() == std::vector<double>{0, 0, 1, 0});
  CHECK(K::ge(a, b).to_vector() == std::vector<double>{0, 1, 1, 1});
  CHECK(K::ge(a, b).dtype() == DType::Float64);
  const Tensor i = Tensor::arange(4, DType::Int64);
  CHECK(K::eq(i, Tensor::full({}, 2, DType::Int64)).to_vector() == std::vector<double>{0, 0, 1, 0});
  CHECK(K::eq(i, Tensor::full({}, 2, DType::Int64)).dtype() == DType::Int64);
}

TEST_CASE("integer arithmetic and dtype errors") {
  const Tensor i = Tensor::from_vector(std::vector<int64_t>{5, -7, 9}, {3});
  const Tensor j = Tensor::from_vector(std::vector<int64_t>{2}, {1});
  CHECK(K::add(i, j).to_vector() == std::vector<double>{7, -5, 11});
  CHECK(K::sub(i, j).to_vector() == std::vector<double>{3, -9, 7});
  CHECK(K::mul(i, j).to_vector() == std::vector<double>{10, -14, 18});
  CHECK(K::maximum(i, j).to_vector() == std::vector<double>{5, 2, 9});
  CHECK_THROWS_WITH_AS(K::div(i, j), doctest::Contains("div: got dtype int64, expected float32 or float64"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::pow(i, j), doctest::Contains("pow: got dtype int64"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::add(i, Tensor::ones({3}, DType::Float64)),
                       doctest::Contains("add: dtypes int64 and float64 differ (shapes [3] and [3])"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::add(Tensor::ones({2}, DType::UInt8), Tensor::ones({2}, DType::UInt8)),
                       doctest::Contains("add: got dtype uint8"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::mul(Tensor::ones({3, 2}), Tensor::ones({3})),
                       doctest::Contains("mul: shapes [3, 2] and [3] cannot be broadcast together"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::exp(i), doctest::Contains("exp: got dtype int64"), std::invalid_argument);
}

TEST_CASE("where broadcasts condition and both branches") {
  Generator g(2);
  const Tensor cond = f64({1, 0, 1}, {3, 1});
  const Tensor a = randn({1, 4}, g), b = randn({}, g);
  const Tensor w = K::where(cond, a, b);
  REQUIRE(w.shape() == Shape{3, 4});
  for (const Index& i : all_indices(w.shape())) CHECK(w.at(i) == (i[0] != 1 ? a.at({0, i[1]}) : b.item()));
  const Tensor int_cond = Tensor::from_vector(std::vector<int64_t>{0, 3}, {2});  // any non-zero is true
  CHECK(K::where(int_cond, f64({1, 2}, {2}), f64({-1, -2}, {2})).to_vector() == std::vector<double>{-1, 2});
  CHECK_THROWS_WITH_AS(K::where(cond, a, Tensor::ones({4})), doctest::Contains("where: dtypes float64 and float32"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::where(Tensor::ones({2}), Tensor::ones({3}), Tensor::ones({3})),
                       doctest::Contains("where: shapes [2] and [3] cannot be broadcast"), std::invalid_argument);
}

TEST_CASE("scalar kernels, clamp and masked_fill") {
  Generator g(3);
  const Tensor a = K::transpose(randn({3, 4}, g), 0, 1);
  check_unary([](const Tensor& x) { return K::add_scalar(x, 1.5); }, [](double x) { return x + 1.5; }, a);
  check_unary([](const Tensor& x) { return K::mul_scalar(x, -3.0); }, [](double x) { return x * -3.0; }, a);
  check_unary([](const Tensor& x) { return K::rsub_scalar(x, 2.0); }, [](double x) { return 2.0 - x; }, a);
  check_unary([](const Tensor& x) { return K::pow_scalar(x, 2.0); }, [](double x) { return x * x; }, a);
  check_unary([](const Tensor& x) { return K::pow_scalar(K::abs(x), 0.5); },
              [](double x) { return std::sqrt(std::abs(x)); }, a, 1e-15);
  check_unary([](const Tensor& x) { return K::pow_scalar(x, 3.0); }, [](double x) { return x * x * x; }, a, 1e-14);
  check_unary([](const Tensor& x) { return K::clamp(x, -0.5, 0.25); },
              [](double x) { return std::clamp(x, -0.5, 0.25); }, a);
  CHECK(K::clamp(f64({-1, 0.5, 2}, {3}), 0, 1).to_vector() == std::vector<double>{0, 0.5, 1});
  CHECK_THROWS_WITH_AS(K::clamp(a, 1, 0), doctest::Contains("clamp: min 1 exceeds max 0"), std::invalid_argument);

  const Tensor m = K::masked_fill(f64({1, 2, 3, 4, 5, 6}, {2, 3}), f64({1, 0, 1}, {3}), -9);
  CHECK(m.to_vector() == std::vector<double>{-9, 2, -9, -9, 5, -9});
  const Tensor col_mask = Tensor::from_vector(std::vector<int64_t>{0, 1}, {2, 1});
  CHECK(K::masked_fill(f64({1, 2, 3, 4}, {2, 2}), col_mask, 0).to_vector() == std::vector<double>{1, 2, 0, 0});
  CHECK_THROWS_WITH_AS(K::masked_fill(Tensor::ones({3}), Tensor::ones({2, 3}), 0),
                       doctest::Contains("masked_fill: mask [2, 3] does not broadcast to [3]"), std::invalid_argument);
}

TEST_CASE("unary kernels") {
  Generator g(4);
  const Tensor a = K::narrow(randn({3, 5}, g), 1, 1, 3);  // non-contiguous
  check_unary(
      K::neg, [](double x) { return -x; }, a);
  check_unary(
      K::exp, [](double x) { return std::exp(x); }, a);
  check_unary(
      K::abs, [](double x) { return std::abs(x); }, a);
  check_unary(
      K::tanh, [](double x) { return std::tanh(x); }, a);
  check_unary(
      K::relu, [](double x) { return x > 0 ? x : 0.0; }, a);
  check_unary(
      K::step, [](double x) { return x > 0 ? 1.0 : 0.0; }, a);
  check_unary(
      K::sign, [](double x) { return double((x > 0) - (x < 0)); }, a);
  check_unary(
      K::sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, a, 1e-15);
  const Tensor p = K::abs(a);
  check_unary(
      K::log, [](double x) { return std::log(x); }, p);
  check_unary(
      K::sqrt, [](double x) { return std::sqrt(x); }, p);
  CHECK(K::sign(f64({-2, 0, 3}, {3})).to_vector() == std::vector<double>{-1, 0, 1});
  CHECK(K::relu(f64({-2, 0, 3}, {3})).to_vector() == std::vector<double>{0, 0, 3});
  CHECK(K::step(f64({-2, 0, 3}, {3})).to_vector() == std::vector<double>{0, 0, 1});
  // relu_backward: g · step(z) in one pass, and 0 where z <= 0 even for a gradient that is not finite
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(K::relu_backward(f64({5, nan, -inf, 7, -2}, {5}), f64({-2, 0, -1, 3, 1e-300}, {5})).to_vector() ==
        std::vector<double>{0, 0, 0, 7, -2});
  const Tensor rg = randn({3, 5}, g), rz = randn({3, 5}, g);
  CHECK(K::amax(K::abs(K::sub(K::relu_backward(rg, rz), K::mul(rg, K::step(rz))))).item() == 0);
  CHECK(K::relu_backward(rg.to(DType::Float32), K::relu(rz).to(DType::Float32)).dtype() == DType::Float32);
  // sigmoid is stable at both ends.
  const Tensor s = K::sigmoid(f64({-800, 800}, {2}));
  CHECK(s.at({0}) == 0.0);
  CHECK(s.at({1}) == 1.0);
  CHECK(K::sigmoid(f64({-40}, {1})).item() == doctest::Approx(std::exp(-40.0)).epsilon(1e-12));
  const Tensor a32 = randn({7}, g, DType::Float32);
  check_unary(
      K::exp, [](double x) { return double(std::exp(float(x))); }, a32);
}

TEST_CASE("add_row_scaled_ shifts each row by its own multiple, bit for bit as add(dst, mul(t, src))") {
  Generator g(7);
  for (DType dt : {DType::Float32, DType::Float64}) {
    const Tensor y = rand_normal({5, 3, 4}, 0.0, 1.0, g, dt), t = rand_normal({5}, 0.0, 1.0, g, dt);
    const Tensor t_col = K::reshape(t, {5, 1, 1});
    for (const Shape& src_shape : {Shape{5, 3, 4}, Shape{3, 4}}) {
      const Tensor src = rand_normal(src_shape, 0.0, 1.0, g, dt);
      const Tensor expected = K::add(y, K::mul(t_col, src));
      const Tensor dst = y.clone();
      K::add_row_scaled_(dst, t, src);
      CHECK(dst.to_vector() == expected.to_vector());
    }
  }
  const Tensor dst = Tensor::zeros({2, 3}, DType::Float64);
  CHECK_THROWS_WITH_AS(K::add_row_scaled_(dst, Tensor::ones({2}, DType::Float64), Tensor::ones({2, 1}, DType::Float64)),
                       doctest::Contains("add_row_scaled_: dst [2, 3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::add_row_scaled_(dst, Tensor::ones({3}, DType::Float64), Tensor::ones({3}, DType::Float64)),
                       doctest::Contains("do not fit"), std::invalid_argument);
}

TEST_CASE("in-place updates") {
  Tensor dst = f64({1, 2, 3, 4}, {2, 2});
  K::add_(dst, f64({10, 20, 30, 40}, {2, 2}));
  CHECK(dst.to_vector() == std::vector<double>{11, 22, 33, 44});
  K::add_(dst, K::transpose(f64({1, 2, 3, 4}, {2, 2}), 0, 1), -2.0);
  CHECK(dst.to_vector() == std::vector<double>{9, 16, 29, 36});
  K::mul_scalar_(dst, 0.5);
  CHECK(dst.to_vector() == std::vector<double>{4.5, 8, 14.5, 18});
  CHECK_THROWS_WITH_AS(K::add_(dst, Tensor::ones({4}, DType::Float64)),
                       doctest::Contains("add_: shapes [2, 2] and [4] differ"), std::invalid_argument);
  Tensor other = f64({1, 2, 3, 4}, {2, 2});
  K::add_(K::transpose(other, 0, 1), dst);  // any strides on both sides
  CHECK(other.to_vector() == std::vector<double>{5.5, 16.5, 11, 22});
  K::mul_scalar_(K::narrow(other, 1, 1, 1), -1);
  CHECK(other.to_vector() == std::vector<double>{5.5, -16.5, 11, -22});
  CHECK_THROWS_WITH_AS(K::add_(dst, Tensor::ones({2, 2})), doctest::Contains("add_: dtypes float64 and float32"),
                       std::invalid_argument);
}

TEST_CASE("unary and in-place kernels on xtensor rows equal the plain loop bit for bit, split over threads") {
  Generator g(5);
  const int threads = num_threads();
  set_num_threads(2);
  for (DType dt : {DType::Float32, DType::Float64}) {
    // Past kParallelGrain, so the rows are split over both threads; transposed: rows of stride 300.
    const Tensor flat = randn({300, 250}, g, dt), strided = K::transpose(flat, 0, 1);
    for (const Tensor& a : {flat, strided}) {
      auto same = [&](const Tensor& out, auto f) {
        dispatch_float(dt, "test", [&](auto tag) {
          using T = decltype(tag);
          bool all = true;
          for (const Index& i : all_indices(a.shape())) all = all && out.at(i) == double(f(T(a.at(i))));
          CHECK(all);
        });
      };
      same(K::exp(a), [](auto x) { return std::exp(x); });
      same(K::tanh(a), [](auto x) { return std::tanh(x); });
      same(K::sigmoid(a), [](auto x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); });
      same(K::add_scalar(a, 0.1), [](auto x) { return x + decltype(x)(0.1); });
      same(K::pow_scalar(K::abs(a), 1.5), [](auto x) { return std::pow(std::abs(x), decltype(x)(1.5)); });
      Tensor acc = K::mul_scalar(a, 1.0);  // contiguous copy
      K::add_(acc, a, 0.3);
      same(acc, [](auto x) { return x + decltype(x)(0.3) * x; });
      const Tensor acc_t = K::transpose(K::mul_scalar(K::transpose(a, 0, 1), 1.0), 0, 1);  // a copy, transposed
      K::add_(acc_t, a, 0.3);
      K::mul_scalar_(acc_t, 2.0);
      same(acc_t, [](auto x) { return (x + decltype(x)(0.3) * x) * decltype(x)(2.0); });
    }
  }
  set_num_threads(threads);
  // -0 and NaN: sign and step give +0, relu 0 for NaN, clamp keeps NaN.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor odd = f64({-0.0, nan}, {2});
  CHECK(!std::signbit(K::sign(odd).at({0})));
  CHECK(K::sign(odd).at({1}) == 0.0);
  CHECK(K::step(odd).to_vector() == std::vector<double>{0, 0});
  CHECK(K::relu(odd).at({1}) == 0.0);
  CHECK(std::isnan(K::clamp(odd, -1, 1).at({1})));
}

// ---------------------------------------------------------------- reductions
TEST_CASE("sum, mean, amax, amin over any dims") {
  Generator g(5);
  const Tensor a = randn({3, 4, 5}, g);
  const Tensor at = K::permute(a, {2, 0, 1});  // non-contiguous input
  const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {1}, {2}, {-1}, {0, 1}, {0, 2}, {1, 2}, {0, 1, 2}};
  auto add = [](double x, double y) { return x + y; };
  auto mx = [](double x, double y) { return std::max(x, y); };
  auto mn = [](double x, double y) { return std::min(x, y); };
  for (const Tensor& x : {a, at})
    for (const auto& dims : dim_sets)
      for (bool keepdim : {false, true}) {
        INFO("dims ", shape_str(dims), " keepdim ", keepdim, " input ", shape_str(x.shape()));
        CHECK(max_abs_diff(K::sum(x, dims, keepdim), reduce_ref(x, dims, keepdim, 0, add)) < 1e-12);
        const double count =
            dims.empty() ? 60.0 : double(x.numel()) / double(reduce_ref(x, dims, false, 0, add).numel());
        CHECK(max_abs_diff(K::mean(x, dims, keepdim), K::mul_scalar(reduce_ref(x, dims, keepdim, 0, add), 1 / count)) <
              1e-12);
        CHECK(max_abs_diff(K::amax(x, dims, keepdim), reduce_ref(x, dims, keepdim, -INFINITY, mx)) == 0);
        CHECK(max_abs_diff(K::amin(x, dims, keepdim), reduce_ref(x, dims, keepdim, INFINITY, mn)) == 0);
      }
  CHECK(K::sum(a).shape() == Shape{});
  CHECK(K::sum(a, {1}, true).shape() == Shape{3, 1, 5});
  // Integers sum exactly; float32 sums accumulate in double.
  CHECK(K::sum(Tensor::from_vector(std::vector<int64_t>{int64_t{1} << 60, 1, 2}, {3})).item() ==
        static_cast<double>((int64_t{1} << 60) + 3));
  const Tensor ones32 = Tensor::ones({1 << 25});
  CHECK(K::sum(ones32).item() == double(1 << 25));  // a float accumulator would stop at 2^24
  CHECK(K::amax(Tensor::from_vector(std::vector<int64_t>{3, 9, -2}, {3})).item() == 9);
  CHECK_THROWS_WITH_AS(K::sum(a, {1, -2}), doctest::Contains("sum: dim -2 listed twice"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::sum(a, {3}), doctest::Contains("sum: dim 3 is out of range for a tensor with 3 dims"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(K::mean(Tensor::arange(3, DType::Int64)), doctest::Contains("mean: got dtype int64"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::amax(Tensor::zeros({2, 0}), {1}), doctest::Contains("amax: reducing over an empty dimension"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::mean(Tensor::zeros({0})), doctest::Contains("mean: reducing over an empty dimension"),
                       std::invalid_argument);
}

TEST_CASE("argmax and argmin pick the first extreme") {
  const Tensor t = f64({1, 5, 5, 0, 0, -1, 3, -1, 2, 2, 2, 2}, {3, 4});
  CHECK(K::argmax(t, 1).to_vector() == std::vector<double>{1, 2, 0});
  CHECK(K::argmin(t, 1).to_vector() == std::vector<double>{3, 1, 0});
  CHECK(K::argmax(t, 0).to_vector() == std::vector<double>{2, 0, 0, 2});
  CHECK(K::argmin(t, -2).to_vector() == std::vector<double>{1, 1, 2, 1});
  CHECK(K::argmax(t, 1, true).shape() == Shape{3, 1});
  CHECK(K::argmax(t, 1).dtype() == DType::Int64);
  CHECK(K::argmin(Tensor::from_vector(std::vector<int64_t>{4, -3, 7}, {3}), 0).item() == 1);
  CHECK_THROWS_AS(K::argmax(t, 2), std::out_of_range);
}

TEST_CASE("logsumexp, softmax and log_softmax are stable") {
  Generator g(6);
  const Tensor a = randn({3, 4}, g);
  for (int64_t dim : {0, 1}) {
    const Tensor lse = K::logsumexp(a, {dim});
    const Tensor ref = K::log(K::sum(K::exp(a), {dim}));
    CHECK(max_abs_diff(lse, ref) < 1e-14);
    const Tensor sm = K::softmax(a, dim);
    CHECK(max_abs_diff(sm, K::div(K::exp(a), K::sum(K::exp(a), {dim}, true))) < 1e-15);
    CHECK(max_abs_diff(K::log_softmax(a, dim), K::sub(a, K::logsumexp(a, {dim}, true))) < 1e-14);
  }
  CHECK(max_abs_diff(K::logsumexp(a, {0, 1}), K::log(K::sum(K::exp(a)))) < 1e-14);
  const Tensor big = f64({1000, 1001, 1002}, {3});
  const Tensor ls = K::log_softmax(big, 0);
  CHECK(std::isfinite(ls.at({0})));
  CHECK(std::abs(ls.at({2}) - (-std::log(1 + std::exp(-1.0) + std::exp(-2.0)))) < 1e-12);
  CHECK(std::abs(K::sum(K::softmax(big, 0)).item() - 1.0) < 1e-12);
  CHECK(std::abs(K::logsumexp(big, {0}).item() - (1002 + std::log(1 + std::exp(-1.0) + std::exp(-2.0)))) < 1e-12);
  const Tensor neg_inf = f64({-INFINITY, -INFINITY}, {2});
  CHECK(K::logsumexp(neg_inf, {0}).item() == -INFINITY);
  CHECK(K::softmax(f64({-INFINITY, 0}, {2}), 0).to_vector() == std::vector<double>{0, 1});
  CHECK_THROWS_AS(K::softmax(a, 2), std::out_of_range);
}

TEST_CASE("kl_div_log equals sum p (log p - log q) and is never negative") {
  Generator g(7);
  // Random distributions: the plain sum is accurate here (terms O(1), 7 of them: error ~1e-15).
  const Tensor lp = K::log_softmax(randn({5, 7}, g), 1), lq = K::log_softmax(randn({5, 7}, g), 1);
  const Tensor plain = K::sum(K::mul(K::exp(lp), K::sub(lp, lq)), {1});
  CHECK(max_abs_diff(K::kl_div_log(lp, lq, 1), plain) < 1e-13);
  // Along dim 0 of the transposed tensors: the same values, shape [5].
  CHECK(max_abs_diff(K::kl_div_log(K::transpose(lp, 0, 1), K::transpose(lq, 0, 1), 0), plain) < 1e-13);
  CHECK(K::kl_div_log(lp, lq, 1).shape() == Shape{5});

  // q within 1e-9 of p: the true KL is ~1e-18, below the ~1e-16 rounding of log_softmax's
  // normaliser, so the plain sum comes out negative for some rows; the term-wise form never does.
  const Tensor logits = randn({400, 11}, g);
  const Tensor near_p = K::log_softmax(logits, 1);
  const Tensor near_q = K::log_softmax(K::add(logits, K::mul_scalar(randn({400, 11}, g), 1e-9)), 1);
  const Tensor plain_near = K::sum(K::mul(K::exp(near_p), K::sub(near_p, near_q)), {1});
  const Tensor kl_near = K::kl_div_log(near_p, near_q, 1);
  CHECK(K::amin(plain_near).item() < 0);  // the case the term-wise form exists for
  CHECK(K::amin(kl_near).item() >= 0);
  CHECK(K::amax(kl_near).item() < 1e-15);  // 0.5 E_p[d^2] with |d| <~ 1e-8
  CHECK(K::amax(K::kl_div_log(near_p, near_p, 1)).item() == 0);

  // p_k = 0 contributes nothing; q_k = 0 where p_k > 0 makes KL infinite.
  const Tensor with_zero = f64({-INFINITY, std::log(0.5), std::log(0.5)}, {3});
  const Tensor third = f64({std::log(1 / 3.0), std::log(1 / 3.0), std::log(1 / 3.0)}, {3});
  CHECK(std::abs(K::kl_div_log(with_zero, third, 0).item() - std::log(1.5)) < 1e-15);
  CHECK(K::kl_div_log(third, with_zero, 0).item() == INFINITY);
  // Float32 inputs give a float32 result; mismatched shapes or dtypes throw.
  CHECK(K::kl_div_log(lp.to(DType::Float32), lq.to(DType::Float32), 1).dtype() == DType::Float32);
  CHECK_THROWS_AS(K::kl_div_log(lp, K::narrow(lq, 1, 0, 6), 1), std::invalid_argument);
  CHECK_THROWS_AS(K::kl_div_log(lp, lq.to(DType::Float32), 1), std::invalid_argument);
}

TEST_CASE("sum_to undoes broadcasting") {
  Generator g(7);
  const Tensor grad = randn({2, 3, 4}, g);
  auto add = [](double x, double y) { return x + y; };
  CHECK(max_abs_diff(K::sum_to(grad, {4}), reduce_ref(grad, {0, 1}, false, 0, add)) < 1e-14);
  CHECK(max_abs_diff(K::sum_to(grad, {3, 1}), K::reshape(reduce_ref(grad, {0, 2}, false, 0, add), {3, 1})) < 1e-14);
  CHECK(max_abs_diff(K::sum_to(grad, {1, 1, 1}), K::reshape(K::sum(grad), {1, 1, 1})) < 1e-14);
  CHECK(max_abs_diff(K::sum_to(grad, {}), K::sum(grad)) < 1e-14);
  CHECK(K::sum_to(grad, {2, 3, 4}).same(grad));
  CHECK_THROWS_WITH_AS(K::sum_to(grad, {5}), doctest::Contains("sum_to: cannot reduce [2, 3, 4] to [5]"),
                       std::invalid_argument);
  CHECK_THROWS_AS(K::sum_to(grad, {1, 2, 3, 4}), std::invalid_argument);
}

// ---------------------------------------------------------------- shapes and indexing
TEST_CASE("reshape, permute, transpose, narrow") {
  const Tensor t = Tensor::arange(24, DType::Float64);
  CHECK(K::reshape(t, {2, -1, 4}).shape() == Shape{2, 3, 4});
  CHECK(K::reshape(t, {2, 3, 4}).storage() == t.storage());  // a view
  const Tensor p = K::permute(K::reshape(t, {2, 3, 4}), {2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.at({3, 1, 2}) == 1 * 12 + 2 * 4 + 3);
  const Tensor r = K::reshape(p, {4, 6});  // copies a non-contiguous input
  CHECK(r.at({3, 5}) == p.at({3, 1, 2}));
  CHECK(K::transpose(p, 0, -1).shape() == Shape{3, 2, 4});
  const Tensor n = K::narrow(K::reshape(t, {4, 6}), 1, 2, 3);
  CHECK(n.shape() == Shape{4, 3});
  CHECK(n.at({1, 0}) == 8);
  CHECK_THROWS_WITH_AS(K::reshape(t, {5, -1}), doctest::Contains("reshape: cannot reshape [24] into [5, -1]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::reshape(t, {-1, -1}), doctest::Contains("only one dim may be -1"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::reshape(t, {5, 5}), doctest::Contains("[24] (24 elements) into [5, 5]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::permute(t, {0, 0}), doctest::Contains("permute: order [0, 0] for a tensor of shape [24]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::permute(K::reshape(t, {4, 6}), {1, 1}), doctest::Contains("permute: dim 1 repeated"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::narrow(t, 0, 20, 5),
                       doctest::Contains("narrow: [20, 25) out of range for dim 0 of shape [24]"), std::out_of_range);
}

TEST_CASE("expand, squeeze, unsqueeze") {
  const Tensor a = f64({1, 2, 3}, {3, 1});
  const Tensor e = K::expand(a, {2, 3, 4});
  CHECK(e.shape() == Shape{2, 3, 4});
  for (const Index& i : all_indices(e.shape())) CHECK(e.at(i) == a.at({i[1], 0}));
  CHECK(K::expand(a, {-1, 2}).shape() == Shape{3, 2});
  CHECK_THROWS_WITH_AS(K::expand(a, {2, 2}), doctest::Contains("expand: cannot expand [3, 1] to [2, 2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::expand(a, {3, -2}), doctest::Contains("expand: cannot expand [3, 1] to [3, -2]"),
                       std::invalid_argument);
  CHECK_THROWS_AS(K::expand(a, {3}), std::invalid_argument);
  CHECK_THROWS_AS(K::expand(a, {-1, 3, 1}), std::invalid_argument);

  CHECK(K::squeeze(a, 1).shape() == Shape{3});
  CHECK(K::squeeze(a, -1).to_vector() == std::vector<double>{1, 2, 3});
  CHECK_THROWS_WITH_AS(K::squeeze(a, 0), doctest::Contains("squeeze: dim 0 of shape [3, 1] is not 1"),
                       std::invalid_argument);
  CHECK(K::unsqueeze(a, 0).shape() == Shape{1, 3, 1});
  CHECK(K::unsqueeze(a, 2).shape() == Shape{3, 1, 1});
  CHECK(K::unsqueeze(a, -1).shape() == Shape{3, 1, 1});
  CHECK(K::unsqueeze(Tensor::scalar(2), 0).shape() == Shape{1});
  CHECK_THROWS_AS(K::unsqueeze(a, 3), std::out_of_range);
}

TEST_CASE("index_select, gather and scatter_add") {
  Generator g(8);
  const Tensor a = randn({3, 4, 2}, g);
  const Tensor idx = Tensor::from_vector(std::vector<int64_t>{3, 0, 3}, {3});
  const Tensor s = K::index_select(a, 1, idx);
  REQUIRE(s.shape() == Shape{3, 3, 2});
  for (const Index& i : all_indices(s.shape())) CHECK(s.at(i) == a.at({i[0], idx.at({i[1]}) == 3 ? 3 : 0, i[2]}));
  CHECK(max_abs_diff(K::index_select(K::transpose(a, 0, 1), 0, idx), K::transpose(s, 0, 1)) == 0);
  CHECK_THROWS_WITH_AS(K::index_select(a, 1, Tensor::from_vector(std::vector<int64_t>{4}, {1})),
                       doctest::Contains("index_select: index 4 out of range for dim 1 of size 4"), std::out_of_range);
  CHECK_THROWS_WITH_AS(K::index_select(a, 1, Tensor::ones({1})), doctest::Contains("index_select: got dtype float32"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::index_select(a, 1, Tensor::zeros({1, 1}, DType::Int64)),
                       doctest::Contains("index must be 1-D"), std::invalid_argument);

  // gather along dim 1 of [3, 4] with an index [3, 2]: out[i][j] = a[i][index[i][j]].
  const Tensor b = randn({3, 4}, g);
  const Tensor gi = Tensor::from_vector(std::vector<int64_t>{0, 3, 2, 2, 1, 0}, {3, 2});
  const Tensor ga = K::gather(b, 1, gi);
  REQUIRE(ga.shape() == Shape{3, 2});
  for (const Index& i : all_indices(ga.shape())) CHECK(ga.at(i) == b.at({i[0], static_cast<int64_t>(gi.at(i))}));
  const Tensor g0i = Tensor::from_vector(std::vector<int64_t>{2, 0, 1, 1}, {1, 4});
  const Tensor g0 = K::gather(K::transpose(K::transpose(b, 0, 1), 0, 1), 0, g0i);  // dim 0, strided input
  for (int64_t j = 0; j < 4; ++j) CHECK(g0.at({0, j}) == b.at({static_cast<int64_t>(g0i.at({0, j})), j}));
  CHECK_THROWS_WITH_AS(K::gather(b, 1, Tensor::from_vector(std::vector<int64_t>{4}, {1, 1})),
                       doctest::Contains("gather: index 4 out of range for dim 1 of size 4"), std::out_of_range);
  CHECK_THROWS_WITH_AS(K::gather(b, 1, Tensor::zeros({4, 1}, DType::Int64)),
                       doctest::Contains("gather: index [4, 1] larger than input [3, 4] outside dim 1"),
                       std::invalid_argument);
  CHECK_THROWS_AS(K::gather(b, 1, Tensor::zeros({3}, DType::Int64)), std::invalid_argument);

  // scatter_add is gather's adjoint: <gather(b, idx), c> == <b, scatter_add(idx, c)>, duplicates add.
  const Tensor c = randn({3, 2}, g);
  const Tensor sc = K::scatter_add({3, 4}, 1, gi, c);
  Tensor expect = Tensor::zeros({3, 4}, DType::Float64);
  for (const Index& i : all_indices(c.shape())) {
    const Index o{i[0], static_cast<int64_t>(gi.at(i))};
    expect.set(o, expect.at(o) + c.at(i));
  }
  CHECK(max_abs_diff(sc, expect) < 1e-15);
  CHECK(sc.at({1, 2}) == doctest::Approx(c.at({1, 0}) + c.at({1, 1})));
  CHECK(std::abs(K::sum(K::mul(ga, c)).item() - K::sum(K::mul(b, sc)).item()) < 1e-14);
  CHECK_THROWS_WITH_AS(K::scatter_add({3, 4}, 1, gi, randn({3, 3}, g)),
                       doctest::Contains("scatter_add: index [3, 2] and src [3, 3] differ"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::scatter_add({2, 4}, 1, gi, c),
                       doctest::Contains("scatter_add: index [3, 2] larger than output [2, 4]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::scatter_add({3, 2}, 1, gi, c),
                       doctest::Contains("scatter_add: index 3 out of range for dim 1 of size 2"), std::out_of_range);
  CHECK_THROWS_AS(K::scatter_add({3, 4, 1}, 1, gi, c), std::invalid_argument);
}

TEST_CASE("embedding and its backward") {
  Generator g(9);
  const Tensor w = randn({5, 3}, g);
  const Tensor idx = Tensor::from_vector(std::vector<int64_t>{4, 0, 4, 2, 1, 4}, {2, 3});
  const Tensor e = K::embedding(w, idx);
  REQUIRE(e.shape() == Shape{2, 3, 3});
  for (const Index& i : all_indices(e.shape()))
    CHECK(e.at(i) == w.at({static_cast<int64_t>(idx.at({i[0], i[1]})), i[2]}));
  const Tensor grad = randn({2, 3, 3}, g);
  const Tensor gw = K::embedding_backward(grad, idx, 5);
  REQUIRE(gw.shape() == Shape{5, 3});
  for (int64_t d = 0; d < 3; ++d) {
    CHECK(gw.at({4, d}) == doctest::Approx(grad.at({0, 0, d}) + grad.at({0, 2, d}) + grad.at({1, 2, d})));
    CHECK(gw.at({3, d}) == 0.0);
    CHECK(gw.at({0, d}) == grad.at({0, 1, d}));
  }
  CHECK_THROWS_WITH_AS(K::embedding(w, Tensor::from_vector(std::vector<int64_t>{5}, {1})),
                       doctest::Contains("index 5 out of range for dim 0 of size 5"), std::out_of_range);
  CHECK_THROWS_WITH_AS(K::embedding_backward(grad, idx, 4),
                       doctest::Contains("embedding: index 4 out of range for 4 rows"), std::out_of_range);
}

TEST_CASE("cat and stack") {
  const Tensor a = f64({1, 2, 3, 4}, {2, 2}), b = f64({5, 6}, {2, 1});
  const Tensor c = K::cat({a, b, K::transpose(a, 0, 1)}, 1);
  CHECK(c.shape() == Shape{2, 5});
  CHECK(c.to_vector() == std::vector<double>{1, 2, 5, 1, 3, 3, 4, 6, 2, 4});
  CHECK(K::cat({a, a}, 0).to_vector() == std::vector<double>{1, 2, 3, 4, 1, 2, 3, 4});
  CHECK(K::cat({a, Tensor::zeros({0, 2}, DType::Float64)}, 0).shape() == Shape{2, 2});
  CHECK_THROWS_WITH_AS(K::cat({a, b}, 0), doctest::Contains("cat: shapes [2, 1] and [2, 2] differ outside dim 0"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::cat({a, Tensor::ones({2, 2})}, 0),
                       doctest::Contains("cat: [2, 2] (float32) does not match [2, 2] (float64)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::cat({}, 0), doctest::Contains("cat: no tensors given"), std::invalid_argument);
  const Tensor s0 = K::stack({a, K::mul_scalar(a, 10)}, 0);
  CHECK(s0.shape() == Shape{2, 2, 2});
  CHECK(s0.at({1, 0, 1}) == 20);
  const Tensor s2 = K::stack({a, K::mul_scalar(a, 10)}, -1);
  CHECK(s2.shape() == Shape{2, 2, 2});
  CHECK(s2.to_vector() == std::vector<double>{1, 10, 2, 20, 3, 30, 4, 40});
  CHECK_THROWS_WITH_AS(K::stack({a, b}, 0), doctest::Contains("stack: shapes [2, 1] and [2, 2] differ"),
                       std::invalid_argument);
}

// ---------------------------------------------------------------- linear algebra
TEST_CASE("matmul agrees with a direct sum: batched, broadcast, transposed, 1-D") {
  Generator gen(10);
  auto direct = [](const Tensor& a, const Tensor& b, const Index& ia, const Index& ib, int64_t k) {
    double s = 0;
    for (int64_t t = 0; t < k; ++t) {
      Index x = ia, y = ib;
      x.back() = t;
      y[y.size() - 2] = t;
      s += a.at(x) * b.at(y);
    }
    return s;
  };
  const Tensor a = randn({2, 3, 4, 5}, gen), b = randn({3, 5, 6}, gen);
  const Tensor c = K::matmul(a, b);
  REQUIRE(c.shape() == Shape{2, 3, 4, 6});
  for (const Index& i : all_indices(c.shape()))
    CHECK(std::abs(c.at(i) - direct(a, b, {i[0], i[1], i[2], 0}, {i[1], 0, i[3]}, 5)) < 1e-12);
  // Broadcast batch dims on both sides: [2, 1, 3, 4] @ [5, 4, 2] -> [2, 5, 3, 2].
  const Tensor p = randn({2, 1, 3, 4}, gen), q = randn({5, 4, 2}, gen);
  const Tensor pq = K::matmul(p, q);
  REQUIRE(pq.shape() == Shape{2, 5, 3, 2});
  for (const Index& i : all_indices(pq.shape()))
    CHECK(std::abs(pq.at(i) - direct(p, q, {i[0], 0, i[2], 0}, {i[1], 0, i[3]}, 4)) < 1e-12);
  // Transposed views give the same result as contiguous copies.
  const Tensor bt = K::transpose(randn({6, 5}, gen), 0, 1);
  CHECK(max_abs_diff(K::matmul(a, bt), K::matmul(a, bt.contiguous())) < 1e-12);
  const Tensor at = K::transpose(randn({3, 5, 4}, gen), 1, 2);
  CHECK(max_abs_diff(K::matmul(at, b), K::matmul(at.contiguous(), b)) < 1e-12);
  const Tensor narrow_b = K::narrow(randn({5, 9}, gen), 1, 2, 6);
  CHECK(max_abs_diff(K::matmul(a, narrow_b), K::matmul(a, narrow_b.contiguous())) < 1e-12);
  // Attention-shaped entries (three tokens, heads of 32) on permuted views, as the grokking
  // transformer has them: rows of 3 kept in registers, a read on its strides, b's columns packed;
  // 600 entries, so that with two threads the second starts in the middle of the batch index.
  const Tensor h = K::permute(randn({300, 3, 2, 32}, gen), {0, 2, 1, 3});  // [300, 2, 3, 32]
  const Tensor ht = K::transpose(h, -2, -1);                               // [300, 2, 32, 3]
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    const Tensor scores = K::matmul(h, ht), back = K::matmul(ht, scores);  // [.., 3, 3], [.., 32, 3]
    double worst = 0;
    for (const Index& i : all_indices(scores.shape()))
      worst = std::max(worst, std::abs(scores.at(i) - direct(h, ht, {i[0], i[1], i[2], 0}, {i[0], i[1], 0, i[3]}, 32)));
    for (const Index& i : all_indices(back.shape()))
      worst =
          std::max(worst, std::abs(back.at(i) - direct(ht, scores, {i[0], i[1], i[2], 0}, {i[0], i[1], 0, i[3]}, 3)));
    CHECK(worst < 1e-12);
  }
  set_num_threads(2);
  // 1-D operands: promoted and the added dim removed.
  const Tensor v = randn({5}, gen), m = randn({5, 3}, gen), w = randn({4, 5}, gen);
  const Tensor vm = K::matmul(v, m);
  REQUIRE(vm.shape() == Shape{3});
  for (int64_t j = 0; j < 3; ++j)
    CHECK(std::abs(vm.at({j}) - direct(K::unsqueeze(v, 0), m, {0, 0}, {0, j}, 5)) < 1e-12);
  const Tensor wv = K::matmul(w, v);
  REQUIRE(wv.shape() == Shape{4});
  for (int64_t i = 0; i < 4; ++i)
    CHECK(std::abs(wv.at({i}) - direct(w, K::unsqueeze(v, 1), {i, 0}, {0, 0}, 5)) < 1e-12);
  const Tensor vv = K::matmul(v, v);
  CHECK(vv.dim() == 0);
  CHECK(std::abs(vv.item() - K::sum(K::mul(v, v)).item()) < 1e-12);
  CHECK(K::matmul(v, b).shape() == Shape{3, 6});
  CHECK(K::matmul(a, v).shape() == Shape{2, 3, 4});
  // float32 is computed in float32 (sgemm) and agrees with float64 to float precision.
  const Tensor a32 = a.to(DType::Float32), b32 = b.to(DType::Float32);
  CHECK(K::matmul(a32, b32).dtype() == DType::Float32);
  CHECK(max_abs_diff(K::matmul(a32, b32), c) < 1e-5);
  // Empty inner dimension: zeros.
  CHECK(K::matmul(Tensor::zeros({2, 0}, DType::Float64), Tensor::zeros({0, 3}, DType::Float64)).to_vector() ==
        std::vector<double>(6, 0.0));
  CHECK_THROWS_WITH_AS(K::matmul(a, Tensor::ones({4, 2}, DType::Float64)),
                       doctest::Contains("matmul: shapes [2, 3, 4, 5] and [4, 2] do not align (5 != 4)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::matmul(a, Tensor::ones({5, 2})),
                       doctest::Contains("matmul: dtypes float64 and float32 differ"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::matmul(Tensor::scalar(1), Tensor::ones({2})), doctest::Contains("at least 1 dim"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::matmul(Tensor::ones({2, 2}, DType::Int64), Tensor::ones({2, 2}, DType::Int64)),
                       doctest::Contains("matmul: got dtype int64"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::matmul(randn({2, 3, 4}, gen), randn({5, 4, 2}, gen)),
                       doctest::Contains("matmul: shapes [2] and [5] cannot be broadcast"), std::invalid_argument);
}

TEST_CASE("batched matmul: outer products and BLAS-sized entries spread over threads, bit for bit") {
  Generator gen(12);
  // Inner dimension 1 (per-sample weight gradients of one position): [B, m, 1] @ [B, 1, n] read
  // through transposed views, against the product written out; a −0 product comes out as +0, as
  // from BLAS.
  const Tensor g_rows = randn({9, 1, 70}, gen), x = randn({9, 1, 40}, gen);
  g_rows.data<double>()[0] = -1.0;
  x.data<double>()[0] = 0.0;
  const Tensor g = K::transpose(g_rows, 1, 2);  // [9, 70, 1]
  const Tensor outer = K::matmul(g, x);
  REQUIRE(outer.shape() == Shape{9, 70, 40});
  bool exact = true;
  for (const Index& i : all_indices(outer.shape()))
    exact = exact && outer.at(i) == 0.0 + g.at({i[0], i[1], 0}) * x.at({i[0], 0, i[2]});
  CHECK(exact);
  CHECK(!std::signbit(outer.at({0, 0, 0})));
  // Entries of 20 × 4 × 30 multiply-adds (above the plain-loop size, below a split product's):
  // each is the BLAS product of its own operands, whichever thread took it.
  const Tensor a = randn({4, 7, 20, 4}, gen), b = K::transpose(randn({7, 30, 4}, gen), 1, 2);  // b [7, 4, 30]
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    const Tensor ab = K::matmul(a, b);
    REQUIRE(ab.shape() == Shape{4, 7, 20, 30});
    bool same = true;
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 7; ++j) {
        const auto entry = [](const Tensor& t, int64_t i0, int64_t j0) {  // t[i0, j0] as a view
          return K::squeeze(K::squeeze(K::narrow(K::narrow(t, 0, i0, 1), 1, j0, 1), 1), 0);
        };
        const Tensor one = K::matmul(entry(a, i, j), K::squeeze(K::narrow(b, 0, j, 1), 0));
        same = same && entry(ab, i, j).contiguous().to_vector() == one.to_vector();
      }
    CHECK(same);
  }
  set_num_threads(2);
}

TEST_CASE("im2col against a direct convolution loop, with stride and padding") {
  Generator gen(11);
  struct Geo {
    int64_t kh, kw, sh, sw, ph, pw;
  };
  for (const Geo& c : {Geo{3, 3, 1, 1, 0, 0}, Geo{3, 2, 2, 1, 1, 0}, Geo{3, 3, 2, 2, 1, 1}, Geo{1, 1, 1, 1, 0, 0},
                       Geo{2, 4, 3, 2, 2, 1}, Geo{3, 3, 1, 1, 1, 1}, Geo{5, 3, 1, 1, 2, 1}}) {
    const K::Conv2dGeometry geo{c.kh, c.kw, c.sh, c.sw, c.ph, c.pw};
    const int64_t N = 2, C = 3, H = 7, W = 6, O = 4;
    const Tensor x = randn({N, C, H, W}, gen), w = randn({O, C, c.kh, c.kw}, gen);
    const int64_t OH = (H + 2 * c.ph - c.kh) / c.sh + 1, OW = (W + 2 * c.pw - c.kw) / c.sw + 1;
    CHECK(geo.out_h(H) == OH);
    CHECK(geo.out_w(W) == OW);
    const Tensor cols = K::im2col(x, geo);
    REQUIRE(cols.shape() == Shape{N, C * c.kh * c.kw, OH * OW});
    const Tensor y = K::reshape(K::matmul(K::reshape(w, {O, -1}), cols), {N, O, OH, OW});
    for (const Index& i : all_indices(y.shape())) {
      double s = 0;
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t ki = 0; ki < c.kh; ++ki)
          for (int64_t kj = 0; kj < c.kw; ++kj) {
            const int64_t r = i[2] * c.sh - c.ph + ki, q = i[3] * c.sw - c.pw + kj;
            if (r >= 0 && r < H && q >= 0 && q < W) s += x.at({i[0], ch, r, q}) * w.at({i[1], ch, ki, kj});
          }
      CHECK(std::abs(y.at(i) - s) < 1e-12);
    }
    // col2im is the adjoint: <im2col(x), c> == <x, col2im(c)>.
    const Tensor cr = randn(cols.shape(), gen);
    const Tensor back = K::col2im(cr, x.shape(), geo);
    REQUIRE(back.shape() == x.shape());
    CHECK(std::abs(K::sum(K::mul(cols, cr)).item() - K::sum(K::mul(x, back)).item()) < 1e-11);
  }
  const Tensor x = Tensor::zeros({1, 1, 4, 4});
  CHECK_THROWS_WITH_AS(K::im2col(Tensor::zeros({1, 4, 4}), K::Conv2dGeometry{2, 2}),
                       doctest::Contains("im2col: expected input [N, C, H, W], got [1, 4, 4]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::im2col(x, K::Conv2dGeometry{2, 2, 0, 1}), doctest::Contains("im2col: kernel 2x2, stride 0x1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::im2col(x, K::Conv2dGeometry{5, 2}),
                       doctest::Contains("im2col: kernel 5x2 does not fit input [1, 1, 4, 4] with padding 0x0"),
                       std::invalid_argument);
  CHECK(K::im2col(x, K::Conv2dGeometry{5, 2, 1, 1, 1, 0}).shape() == Shape{1, 10, 2 * 3});
  CHECK(K::col2im(Tensor::ones({1, 4, 9}), {1, 1, 4, 4}, K::Conv2dGeometry{2, 2}).at({0, 0, 1, 1}) == 4);
  CHECK_THROWS_WITH_AS(K::col2im(Tensor::zeros({1, 4, 8}), {1, 1, 4, 4}, K::Conv2dGeometry{2, 2}),
                       doctest::Contains("col2im: columns [1, 4, 8] do not match input [1, 1, 4, 4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::col2im(Tensor::zeros({1, 4, 9}), {1, 4, 4}, K::Conv2dGeometry{2, 2}),
                       doctest::Contains("col2im: expected input [N, C, H, W], got [1, 4, 4]"), std::invalid_argument);
}

namespace {
// The number of entries where |a - b| exceeds bound.
int64_t beyond(const Tensor& a, const Tensor& b, const Tensor& bound) {
  REQUIRE(a.shape() == b.shape());
  return static_cast<int64_t>(K::sum(K::step(K::sub(K::abs(K::sub(a, b)), bound))).item());
}
}  // namespace

TEST_CASE("conv2d_forward and conv2d_backward equal the whole-batch lowering") {
  // Each entry of the blocked kernels is the same sum as in matmul(w, im2col(x)), col2im(wᵀ g) and
  // Σ_n g_n im2col(x)_nᵀ, possibly in another order (the weight gradient sums its blocks and its
  // threads' partials in order). Both orders are within the dot-product bound k·u·Σ|a_i b_i|
  // (u = 2^-53, float64) of the exact sum, so they differ by at most 2·k·u·Σ|a_i b_i|; col2im adds
  // up to kh·kw such sums, one more term each. Shapes cover one sample per block, blocks of
  // several samples with a short last one, and one block for the whole batch (kColumnBlockBytes).
  Generator gen(14);
  struct Case {
    int64_t N, C, H, W, O;
    K::Conv2dGeometry geo;
  };
  const double u = std::ldexp(1.0, -53);
  for (const Case& c : {Case{5, 8, 20, 18, 6, {3, 3, 1, 1, 1, 1}}, Case{5, 4, 18, 18, 7, {3, 3, 1, 1, 1, 1}},
                        Case{5, 3, 7, 6, 4, {5, 5, 2, 2, 2, 2}}, Case{3, 4, 9, 8, 5, {3, 2, 1, 2, 0, 1}}}) {
    CAPTURE(c.C);
    const K::Conv2dGeometry& geo = c.geo;
    const int64_t KK = geo.kh * geo.kw, L = geo.out_h(c.H) * geo.out_w(c.W), CKK = c.C * KK;
    const Tensor x = randn({c.N, c.C, c.H, c.W}, gen), w = randn({c.O, CKK}, gen), dw = randn({c.O, CKK}, gen);
    const Tensor g = randn({c.N, c.O, L}, gen), gt = randn({c.N, c.O, L}, gen);
    const Tensor cols = K::im2col(x, geo), wt = K::transpose(w, 0, 1), dwt = K::transpose(dw, 0, 1);  // [N, CKK, L]
    const Tensor y_ref = K::matmul(w, cols);
    const Tensor dx_ref = K::col2im(K::add(K::matmul(wt, g), K::matmul(dwt, gt)), x.shape(), geo);
    const Tensor dw_ref = K::sum(K::matmul(g, K::transpose(cols, 1, 2)), {0});
    const Tensor y_bound = K::mul_scalar(K::matmul(K::abs(w), K::abs(cols)), 2.0 * CKK * u);
    const Tensor dx_bound = K::mul_scalar(
        K::col2im(K::add(K::matmul(K::abs(wt), K::abs(g)), K::matmul(K::abs(dwt), K::abs(gt))), x.shape(), geo),
        2.0 * (c.O + 1 + KK) * u);
    const Tensor dw_bound =
        K::mul_scalar(K::sum(K::matmul(K::abs(g), K::transpose(K::abs(cols), 1, 2)), {0}), 2.0 * c.N * L * u);
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      const int before = num_threads();
      set_num_threads(threads);
      const Tensor y = K::conv2d_forward(x, w, geo);
      const K::Conv2dGrads r = K::conv2d_backward(x, w, g, geo, true, true, dw, gt);
      const K::Conv2dGrads only_w = K::conv2d_backward(x, w, g, geo, false, true);
      set_num_threads(before);
      CHECK(beyond(y, y_ref, y_bound) == 0);
      CHECK(beyond(r.input, dx_ref, dx_bound) == 0);
      CHECK(beyond(r.weight, dw_ref, dw_bound) == 0);
      CHECK(!only_w.input.defined());
      CHECK(beyond(only_w.weight, r.weight, Tensor::zeros(r.weight.shape(), DType::Float64)) == 0);
    }
  }
  const K::Conv2dGeometry geo{3, 3, 1, 1, 1, 1};
  const Tensor x = Tensor::zeros({2, 3, 4, 4}), w = Tensor::zeros({5, 27});
  CHECK_THROWS_WITH_AS(
      K::conv2d_forward(x, Tensor::zeros({5, 26}), geo),
      doctest::Contains(
          "conv2d_forward: weights [5, 26] (contiguous, [O, C*kh*kw], one dtype) do not match input [2, 3, 4, 4]"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::conv2d_forward(x, Tensor::zeros({5, 27}, DType::Float64), geo),
                       doctest::Contains("conv2d_forward: weights [5, 27]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::conv2d_backward(x, w, Tensor::zeros({2, 5, 15}), geo, true, true),
                       doctest::Contains("conv2d_backward: gradient [2, 5, 15] (contiguous, one dtype) does not match "
                                         "weights [5, 27] and input [2, 3, 4, 4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::conv2d_backward(x, w, Tensor::zeros({2, 5, 16}), geo, true, true, w),
                       doctest::Contains("conv2d_backward: gradient [2, 5, 16]"), std::invalid_argument);
}

// Winograd F(2×2, 3×3), run directly or over a stride-2 input's phases, against the lowering's
// direct sum. Bounds, from the transforms' entries (|Bᵀ| and |A| rows hold at most 2 and 3 ones,
// |G| rows sum to at most 3/2): a transformed patch entry is at most 4·max|x|, a transformed weight
// 2.25·max|w|, a transformed output gradient 4·max|g|. An output adds 9 taps of C' products (C' =
// the channels Winograd convolves: C, or 4·C over the phases, whose entries are x's and w's or
// zero), so its terms sum to at most M_y = 81·C'·max|w|·max|x|, rounded along at most k = C' + 15
// operations (transforms 4 + 6, product 1, GEMM C', inverse 4): the error is within k·u·M_y, and
// the difference from the direct sum (itself within 9·C·u of its terms) within 2·k·u·M_y. Likewise
// the input gradient (≤ 4 tiles, B's rows ≤ 2 ones, O products: M = 144·O·max|w|·max|g|, k = O +
// 15; the phases' rearrangement copies it exactly) and the weight gradient (N·T tiles of products,
// T = Winograd's tiles per sample, Gᵀ's columns ≤ 2: M = 64·N·T·max|g|·max|x|, k = N·T + 20 with
// the blocks' and threads' partial sums). Float64 checks the algebra (a wrong transform or
// rearrangement is off by O(1)); float32 (through conv2d_forward's dispatch) against the float64
// direct sum, within k·u_32·M.
struct WinogradCase {
  int64_t N, C, H, W, O, pad;
};
void check_winograd_against_lowering(
    const WinogradCase& c, const K::Conv2dGeometry& geo, int64_t channels_factor,
    const std::function<Tensor(const Tensor&, const Tensor&)>& forward,
    const std::function<K::Conv2dGrads(const Tensor&, const Tensor&, const Tensor&, bool, bool)>& backward,
    Generator& gen) {
  CAPTURE(c.H);
  CAPTURE(c.W);
  CAPTURE(c.pad);
  const int64_t OH = geo.out_h(c.H), OW = geo.out_w(c.W), T = (OH + 1) / 2 * ((OW + 1) / 2);
  // float64 operands that float32 holds exactly, so that both dtypes convolve the same numbers
  const auto exact32 = [](const Tensor& t) { return t.to(DType::Float32).to(DType::Float64); };
  const Tensor x = exact32(randn({c.N, c.C, c.H, c.W}, gen)), w = exact32(randn({c.O, c.C * geo.kh * geo.kw}, gen));
  const Tensor g = exact32(randn({c.N, c.O, OH * OW}, gen));
  const double mx = K::amax(K::abs(x)).item(), mw = K::amax(K::abs(w)).item(), mg = K::amax(K::abs(g)).item();
  const double C3 = static_cast<double>(channels_factor * c.C);
  const double m_y = 81.0 * C3 * mw * mx, k_y = C3 + 15.0;
  const double m_dx = 144.0 * c.O * mw * mg, k_dx = c.O + 15.0;
  const double m_dw = 64.0 * c.N * T * mg * mx, k_dw = c.N * T + 20.0;
  const Tensor y = K::conv2d_forward(x, w, geo);  // float64: the lowering
  const K::Conv2dGrads r = K::conv2d_backward(x, w, g, geo, true, true);
  const auto f32 = [](const Tensor& t) { return t.to(DType::Float32); };
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    const int before = num_threads();
    set_num_threads(threads);
    const Tensor y64 = forward(x, w);
    const K::Conv2dGrads r64 = backward(x, w, g, true, true);
    const K::Conv2dGrads only_w = backward(x, w, g, false, true);
    const K::Conv2dGrads only_x = backward(x, w, g, true, false);
    const Tensor y32 = K::conv2d_forward(f32(x), f32(w), geo);
    const K::Conv2dGrads r32 = K::conv2d_backward(f32(x), f32(w), f32(g), geo, true, true);
    set_num_threads(before);
    const double u = std::ldexp(1.0, -53), u32 = std::ldexp(1.0, -24);
    CHECK(K::amax(K::abs(K::sub(y64, y))).item() <= 2 * k_y * u * m_y);
    CHECK(K::amax(K::abs(K::sub(r64.input, r.input))).item() <= 2 * k_dx * u * m_dx);
    CHECK(K::amax(K::abs(K::sub(r64.weight, r.weight))).item() <= 2 * k_dw * u * m_dw);
    CHECK(!only_w.input.defined());
    CHECK(K::amax(K::abs(K::sub(only_w.weight, r64.weight))).item() == 0);
    CHECK(!only_x.weight.defined());
    CHECK(K::amax(K::abs(K::sub(only_x.input, r64.input))).item() == 0);
    CHECK(K::amax(K::abs(K::sub(y32.to(DType::Float64), y))).item() <= k_y * u32 * m_y);
    CHECK(K::amax(K::abs(K::sub(r32.input.to(DType::Float64), r.input))).item() <= k_dx * u32 * m_dx);
    CHECK(K::amax(K::abs(K::sub(r32.weight.to(DType::Float64), r.weight))).item() <= k_dw * u32 * m_dw);
  }
}

TEST_CASE("Winograd F(2x2, 3x3) equals the direct convolution, forward and backward") {
  // The sizes cover tiles that cover the outputs, odd outputs (partial tiles), padding 0 and 2,
  // and tile rows of 3 and of 11 tiles (rounded up to 4 and 12).
  Generator gen(15);
  for (const WinogradCase& c : {WinogradCase{5, 8, 16, 16, 9, 1}, WinogradCase{3, 9, 7, 6, 8, 1},
                                WinogradCase{6, 8, 8, 8, 10, 0}, WinogradCase{2, 12, 9, 20, 8, 2}}) {
    const K::Conv2dGeometry geo{3, 3, 1, 1, c.pad, c.pad};
    CHECK(!K::conv2d_winograd_applies({c.N, c.C, c.H, c.W}, c.O, DType::Float64, geo));
    CHECK(K::conv2d_winograd_applies({c.N, c.C, c.H, c.W}, c.O, DType::Float32, geo));
    check_winograd_against_lowering(
        c, geo, 1, [&](const Tensor& x, const Tensor& w) { return K::conv2d_winograd_forward(x, w, geo); },
        [&](const Tensor& x, const Tensor& w, const Tensor& g, bool input, bool weight) {
          return K::conv2d_winograd_backward(x, w, g, geo, input, weight);
        },
        gen);
  }
  const K::Conv2dGeometry same{3, 3, 1, 1, 1, 1};
  CHECK(!K::conv2d_winograd_applies({2, 7, 8, 8}, 8, DType::Float32, same));  // too few channels
  CHECK(!K::conv2d_winograd_applies({2, 8, 8, 8}, 7, DType::Float32, same));
  CHECK(!K::conv2d_winograd_applies({2, 8, 8, 8}, 8, DType::Float32, {3, 3, 2, 2, 1, 1}));  // stride 2
  CHECK(!K::conv2d_winograd_applies({2, 8, 8, 8}, 8, DType::Float32, {5, 5, 1, 1, 2, 2}));
}

TEST_CASE("a 5x5 or 6x6 stride-2 convolution over the input's phases equals the direct convolution") {
  // Winograd over 4·C phase channels (bounds as above). The sizes cover even and odd inputs, the
  // last column read by no window (past the phase planes: its gradient written as zero), padding
  // 0, 1 and 2, padding wider than the input (phase rows and columns wholly outside it), both
  // kernels, two input channels, and phase planes whose tile rows are rounded up.
  Generator gen(16);
  struct PhaseCase {
    WinogradCase c;
    int64_t k;
  };
  for (const PhaseCase& p :
       {PhaseCase{{4, 8, 32, 32, 8, 2}, 5}, PhaseCase{{3, 2, 13, 11, 9, 1}, 5}, PhaseCase{{2, 5, 12, 15, 8, 0}, 6},
        PhaseCase{{3, 3, 10, 10, 8, 2}, 6}, PhaseCase{{2, 3, 3, 4, 8, 4}, 5}}) {
    CAPTURE(p.k);
    const K::Conv2dGeometry geo{p.k, p.k, 2, 2, p.c.pad, p.c.pad};
    const Shape shape{p.c.N, p.c.C, p.c.H, p.c.W};
    CHECK(!K::conv2d_phases_apply(shape, p.c.O, DType::Float64, geo));
    CHECK(K::conv2d_phases_apply(shape, p.c.O, DType::Float32, geo));
    CHECK(!K::conv2d_winograd_applies(shape, p.c.O, DType::Float32, geo));
    check_winograd_against_lowering(
        p.c, geo, 4, [&](const Tensor& x, const Tensor& w) { return K::conv2d_phases_forward(x, w, geo); },
        [&](const Tensor& x, const Tensor& w, const Tensor& g, bool input, bool weight) {
          return K::conv2d_phases_backward(x, w, g, geo, input, weight);
        },
        gen);
  }
  CHECK(!K::conv2d_phases_apply({2, 1, 8, 8}, 8, DType::Float32, {5, 5, 2, 2, 2, 2}));  // one input channel
  CHECK(!K::conv2d_phases_apply({2, 4, 8, 8}, 7, DType::Float32, {5, 5, 2, 2, 2, 2}));  // seven outputs
  CHECK(!K::conv2d_phases_apply({2, 4, 8, 8}, 8, DType::Float32, {3, 3, 2, 2, 1, 1}));  // 3x3
  CHECK(!K::conv2d_phases_apply({2, 4, 8, 8}, 8, DType::Float32, {5, 5, 1, 1, 2, 2}));  // stride 1
  CHECK(!K::conv2d_phases_apply({2, 4, 8, 8}, 8, DType::Float32, {5, 5, 2, 2, 2, 1}));  // unequal padding
}

// ---------------------------------------------------------------- pooling
TEST_CASE("max pooling windows follow PyTorch's floor rule") {
  Generator gen(12);
  const Tensor x = randn({2, 3, 7, 6}, gen);
  struct Case {
    int64_t kh, kw, sh, sw, oh, ow;
  };
  // OH = floor((H - kh) / sh) + 1: a window that would run past the edge is dropped.
  for (const Case& c :
       {Case{2, 2, 2, 2, 3, 3}, Case{3, 3, 2, 2, 3, 2}, Case{3, 2, 1, 2, 5, 3}, Case{7, 6, 1, 1, 1, 1}}) {
    const K::PoolResult r = K::max_pool2d(x, c.kh, c.kw, c.sh, c.sw);
    REQUIRE(r.values.shape() == Shape{2, 3, c.oh, c.ow});
    CHECK(r.indices.dtype() == DType::Int64);
    for (const Index& i : all_indices(r.values.shape())) {
      double best = -INFINITY;
      int64_t where = -1;
      for (int64_t h = i[2] * c.sh; h < i[2] * c.sh + c.kh; ++h)
        for (int64_t w = i[3] * c.sw; w < i[3] * c.sw + c.kw; ++w)
          if (x.at({i[0], i[1], h, w}) > best) {
            best = x.at({i[0], i[1], h, w});
            where = h * 6 + w;
          }
      CHECK(r.values.at(i) == best);
      CHECK(r.indices.at(i) == where);
    }
  }
  // Ties: the first maximum in row-major order of the window.
  const Tensor ties = Tensor::ones({1, 1, 2, 2}, DType::Float64);
  CHECK(K::max_pool2d(ties, 2, 2, 2, 2).indices.item() == 0);
  CHECK_THROWS_WITH_AS(K::max_pool2d(x, 8, 2, 1, 1),
                       doctest::Contains("max_pool2d: kernel 8x2 does not fit input [2, 3, 7, 6]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::max_pool2d(x, 2, 2, 0, 1), doctest::Contains("must be positive"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(K::max_pool2d(Tensor::zeros({3, 4, 4}), 2, 2, 2, 2),
                       doctest::Contains("expected input [N, C, H, W]"), std::invalid_argument);
}

TEST_CASE("adaptive max pooling windows: start = floor(i*H/OH), end = ceil((i+1)*H/OH)") {
  // Window bounds written out from PyTorch's rule for H = 5 -> 3 and W = 7 -> 3 (overlapping):
  // rows [0, 2), [1, 4), [3, 5); columns [0, 3), [2, 5), [4, 7).
  const std::vector<std::pair<int64_t, int64_t>> rows{{0, 2}, {1, 4}, {3, 5}}, cols{{0, 3}, {2, 5}, {4, 7}};
  Generator gen(13);
  const Tensor x = randn({2, 2, 5, 7}, gen);
  const K::PoolResult r = K::adaptive_max_pool2d(x, 3, 3);
  REQUIRE(r.values.shape() == Shape{2, 2, 3, 3});
  for (const Index& i : all_indices(r.values.shape())) {
    double best = -INFINITY;
    int64_t where = -1;
    for (int64_t h = rows[i[2]].first; h < rows[i[2]].second; ++h)
      for (int64_t w = cols[i[3]].first; w < cols[i[3]].second; ++w)
        if (x.at({i[0], i[1], h, w}) > best) {
          best = x.at({i[0], i[1], h, w});
          where = h * 7 + w;
        }
    CHECK(r.values.at(i) == best);
    CHECK(r.indices.at(i) == where);
  }
  // Output 1x1 is a global max; an output larger than the input repeats elements (as PyTorch).
  CHECK(K::adaptive_max_pool2d(x, 1, 1).values.at({1, 1, 0, 0}) ==
        K::amax(K::narrow(K::narrow(x, 0, 1, 1), 1, 1, 1)).item());
  const Tensor small = f64({1, 2, 3, 4}, {1, 1, 2, 2});
  CHECK(K::adaptive_max_pool2d(small, 3, 2).values.to_vector() == std::vector<double>{1, 2, 3, 4, 3, 4});
  CHECK_THROWS_WITH_AS(K::adaptive_max_pool2d(x, 0, 2), doctest::Contains("adaptive_max_pool2d: output 0x2 impossible"),
                       std::invalid_argument);
}

TEST_CASE("max pooling backward routes gradients to the maxima") {
  const Tensor x = f64({1, 9, 2, 3,  //
                        4, 5, 8, 6,  //
                        7, 0, 1, 2},
                       {1, 1, 3, 4});
  const K::PoolResult r = K::max_pool2d(x, 2, 2, 1, 2);  // overlapping rows: 2 x 2 windows
  CHECK(r.values.to_vector() == std::vector<double>{9, 8, 7, 8});
  const Tensor g = f64({1, 10, 100, 1000}, {1, 1, 2, 2});
  const Tensor gx = K::max_pool2d_backward(g, r.indices, x.shape());
  CHECK(gx.to_vector() == std::vector<double>{0, 1, 0, 0, 0, 0, 1010, 0, 100, 0, 0, 0});
  CHECK_THROWS_WITH_AS(K::max_pool2d_backward(g, r.indices, {1, 2, 3, 4}),
                       doctest::Contains("max_pool2d_backward: gradient [1, 1, 2, 2] and int64 indices [1, 1, 2, 2]"),
                       std::invalid_argument);
  CHECK_THROWS_AS(K::max_pool2d_backward(g, Tensor::full({1, 1, 2, 2}, 12, DType::Int64), x.shape()),
                  std::out_of_range);
}

// ---------------------------------------------------------------- random numbers
TEST_CASE("random stream is fixed by the seed") {
  Generator g1(42), g2(42), g3(43);
  const uint64_t first = g1.next_u64();
  CHECK(first == g2.next_u64());
  CHECK(first != g3.next_u64());
  Generator g0(0);
  // xoshiro256** seeded through splitmix64(0): the documented first output.
  CHECK(g0.next_u64() == 11091344671253066420ULL);
  g1.reseed(42);
  CHECK(g1.next_u64() == first);
}

TEST_CASE("uniform and normal draws have the right range and moments") {
  Generator g(21);
  const int n = 200000;
  double lo_seen = INFINITY, hi_seen = -INFINITY, sum = 0;
  for (int i = 0; i < n; ++i) {
    const double u = g.uniform(-2.0, 3.0);
    lo_seen = std::min(lo_seen, u);
    hi_seen = std::max(hi_seen, u);
    sum += u;
  }
  CHECK(lo_seen >= -2.0);
  CHECK(hi_seen < 3.0);
  CHECK(lo_seen < -1.99);
  CHECK(hi_seen > 2.99);
  // mean 0.5, std 5/sqrt(12): 5 standard errors.
  CHECK(std::abs(sum / n - 0.5) < 5 * (5 / std::sqrt(12.0)) / std::sqrt(double(n)));
  double s1 = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = g.normal(1.5, 2.0);
    s1 += z;
    s2 += z * z;
  }
  const double mean = s1 / n, var = s2 / n - mean * mean;
  CHECK(std::abs(mean - 1.5) < 5 * 2.0 / std::sqrt(double(n)));
  CHECK(std::abs(std::sqrt(var) - 2.0) < 5 * 2.0 / std::sqrt(2.0 * n));
  // randint is in range and hits every value.
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const int64_t k = g.randint(7);
    REQUIRE(k >= 0);
    REQUIRE(k < 7);
    ++counts[k];
  }
  for (int c : counts) CHECK(c > 800);
  CHECK_THROWS_WITH_AS(g.randint(0), doctest::Contains("randint: n must be positive"), std::invalid_argument);
}

TEST_CASE("random tensors, randperm, and state save/restore") {
  Generator g(22);
  const Tensor u = rand_uniform({100, 10}, 4, 5, g, DType::Float32);
  CHECK(u.dtype() == DType::Float32);
  CHECK(K::amin(u).item() >= 4);
  CHECK(K::amax(u).item() < 5);
  const Tensor z = rand_normal({3, 4}, 0, 1, g, DType::Float64);
  CHECK(z.shape() == Shape{3, 4});
  CHECK_THROWS_WITH_AS(rand_uniform({2}, 0, 1, g, DType::Int64), doctest::Contains("rand_uniform: got dtype int64"),
                       std::invalid_argument);
  // Tensors are filled in row-major order from the stream.
  Generator a(5), b(5);
  const Tensor t = rand_uniform({2, 2}, 0, 1, a, DType::Float64);
  for (int64_t i = 0; i < 4; ++i) CHECK(t.at({i / 2, i % 2}) == b.uniform());

  const Tensor p = randperm(50, g);
  CHECK(p.dtype() == DType::Int64);
  std::vector<double> v = p.to_vector();
  CHECK(v != Tensor::arange(50, DType::Float64).to_vector());  // shuffled (probability 1/50! of failing)
  std::sort(v.begin(), v.end());
  CHECK(v == Tensor::arange(50, DType::Float64).to_vector());
  CHECK(randperm(0, g).numel() == 0);

  // state() after an odd number of normals (a Box–Muller spare is pending) continues the stream.
  Generator s(99);
  s.normal();
  const Generator::State st = s.state();
  std::vector<double> expect;
  for (int i = 0; i < 5; ++i) expect.push_back(s.normal());
  expect.push_back(s.uniform());
  Generator other(1234);
  other.set_state(st);
  for (int i = 0; i < 5; ++i) CHECK(other.normal() == expect[i]);
  CHECK(other.uniform() == expect[5]);
}
