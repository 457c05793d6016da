// Shapes and strides: element counts, row-major strides, NumPy broadcasting, dim normalisation,
// and the formatting used in every error message ("[4, 3]").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pathgrad {

using Shape = std::vector<int64_t>;

// The element count. Throws std::invalid_argument naming the shape when the product overflows
// int64_t.
int64_t numel(const Shape& shape);
// Row-major strides (in elements). Throws std::invalid_argument naming the shape when a stride
// overflows int64_t, which a dim of 0 does not prevent: [0, 2^40, 2^40] has no valid strides.
Shape contiguous_strides(const Shape& shape);
// The bytes of a contiguous tensor of `shape` with elements of `element_size` bytes, or nothing
// when no such tensor can exist: a negative dim, or element_size times the product of the dims
// (zeros counted as 1, for the strides) beyond 2^63 - 1. File loaders check shapes with this
// before they allocate.
std::optional<int64_t> contiguous_bytes(const Shape& shape, int64_t element_size);
// "[2, 3, 4]"
std::string shape_str(const Shape& shape);
// The NumPy broadcast of two shapes; throws std::invalid_argument naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& op);
// Maps a possibly negative dim into [0, ndim); throws std::out_of_range naming `op`.
int64_t normalize_dim(int64_t dim, int64_t ndim, const std::string& op);

}  // namespace pathgrad
