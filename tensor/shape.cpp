// Shapes and strides: element counts, row-major strides, NumPy broadcasting.
#include "tensor/shape.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <stdexcept>

namespace pathgrad {

namespace {
[[noreturn]] void too_large(const Shape& shape) {
  throw std::invalid_argument(
      fmt::format("shape {} is too large: its element count or a stride exceeds 2^63 - 1", shape_str(shape)));
}
}  // namespace

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape)
    if (__builtin_mul_overflow(n, s, &n)) too_large(shape);
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    if (__builtin_mul_overflow(strides[d + 1], shape[d + 1], &strides[d])) too_large(shape);
  return strides;
}

std::optional<int64_t> contiguous_bytes(const Shape& shape, int64_t element_size) {
  int64_t extent = element_size;  // element_size times every dim, zeros counted as 1
  for (int64_t s : shape)
    if (s < 0 || __builtin_mul_overflow(extent, std::max<int64_t>(s, 1), &extent)) return std::nullopt;
  return numel(shape) * element_size;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(
          fmt::format("{}: shapes {} and {} cannot be broadcast together", op, shape_str(a), shape_str(b)));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t normalize_dim(int64_t dim, int64_t ndim, const std::string& op) {
  const int64_t d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= ndim)
    throw std::out_of_range(fmt::format("{}: dim {} is out of range for a tensor with {} dims", op, dim, ndim));
  return d;
}

}  // namespace pathgrad
