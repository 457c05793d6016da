// Shapes and strides: element counts, row-major strides, NumPy broadcasting, dim normalisation,
// and the formatting used in every error message ("[4, 3]").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pathgrad {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
// "[2, 3, 4]"
std::string shape_str(const Shape& shape);
// The NumPy broadcast of two shapes; throws std::invalid_argument naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& op);
// Maps a possibly negative dim into [0, ndim); throws std::out_of_range naming `op`.
int64_t normalize_dim(int64_t dim, int64_t ndim, const std::string& op);

}  // namespace pathgrad
