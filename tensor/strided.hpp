// Internal helpers that walk the elements of strided (possibly non-contiguous, possibly
// broadcast) tensors in row-major order, handing element offsets to a callback.
//
// Every walk first merges dims that can be stepped through as one (for every operand,
// stride[d-1] == stride[d] * shape[d]) and drops size-1 dims, so a contiguous or simply
// broadcast operand becomes one long innermost row: the loops over rows are what the compiler
// vectorises. The visiting order is always the row-major order of `shape`.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "tensor/parallel.hpp"
#include "tensor/shape.hpp"

namespace pathgrad {

// Merges walkable dims and drops size-1 dims of `shape`, updating the K operands' strides alike.
// An all-ones shape becomes the empty shape (one element).
template <size_t K>
void coalesce_dims(Shape& shape, std::array<Shape, K>& strides) {
  Shape merged;
  std::array<Shape, K> merged_strides;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool walkable = !merged.empty();
    for (size_t k = 0; k < K && walkable; ++k) walkable = merged_strides[k].back() == strides[k][d] * shape[d];
    if (walkable) {
      merged.back() *= shape[d];
      for (size_t k = 0; k < K; ++k) merged_strides[k].back() = strides[k][d];
      continue;
    }
    merged.push_back(shape[d]);
    for (size_t k = 0; k < K; ++k) merged_strides[k].push_back(strides[k][d]);
  }
  shape = std::move(merged);
  strides = std::move(merged_strides);
}

// Walks K operands of the same logical `shape` row by row: calls
// row(offsets, n, steps) where offsets[k] is operand k's offset of the row's first element,
// n the row length and steps[k] operand k's stride along the row.
template <size_t K, class Row>
void for_each_row(Shape shape, std::array<Shape, K> strides, Row&& row) {
  if (numel(shape) == 0) return;
  coalesce_dims(shape, strides);
  std::array<int64_t, K> offsets{}, steps{};
  if (shape.empty()) {
    row(offsets, int64_t{1}, steps);
    return;
  }
  const int64_t nd = static_cast<int64_t>(shape.size());
  const int64_t inner = shape[nd - 1];
  for (size_t k = 0; k < K; ++k) steps[k] = strides[k][nd - 1];
  const int64_t rows = numel(shape) / inner;
  std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
  for (int64_t r = 0; r < rows; ++r) {
    row(offsets, inner, steps);
    for (int64_t d = nd - 2; d >= 0; --d) {
      for (size_t k = 0; k < K; ++k) offsets[k] += strides[k][d];
      if (++idx[d] < shape[d]) break;
      for (size_t k = 0; k < K; ++k) offsets[k] -= strides[k][d] * shape[d];
      idx[d] = 0;
    }
  }
}

// Like for_each_row, but on parallel_for's threads: the elements are split into consecutive
// chunks of the row-major order, each walked from its own start, so a chunk may begin or end
// inside a row. `row` is called concurrently on disjoint elements; use it where every element
// of the walk is written once and independently of the others.
template <size_t K, class Row>
void parallel_for_each_row(Shape shape, std::array<Shape, K> strides, Row&& row) {
  const int64_t total = numel(shape);
  if (total == 0) return;
  coalesce_dims(shape, strides);
  std::array<int64_t, K> steps{};
  if (shape.empty()) {
    row(steps, int64_t{1}, steps);
    return;
  }
  const int64_t nd = static_cast<int64_t>(shape.size());
  const int64_t inner = shape[nd - 1];
  for (size_t k = 0; k < K; ++k) steps[k] = strides[k][nd - 1];
  parallel_for(total, kParallelGrain, [&](int64_t begin, int64_t end) {
    // The index of the chunk's first row, and every operand's offset there.
    std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
    std::array<int64_t, K> offsets{};
    for (int64_t d = nd - 2, r = begin / inner; d >= 0; --d) {
      idx[d] = r % shape[d];
      r /= shape[d];
      for (size_t k = 0; k < K; ++k) offsets[k] += idx[d] * strides[k][d];
    }
    for (int64_t e = begin, col = begin % inner; e < end; col = 0) {
      const int64_t n = std::min(inner - col, end - e);
      std::array<int64_t, K> at;
      for (size_t k = 0; k < K; ++k) at[k] = offsets[k] + col * steps[k];
      row(at, n, steps);
      e += n;
      for (int64_t d = nd - 2; d >= 0; --d) {
        for (size_t k = 0; k < K; ++k) offsets[k] += strides[k][d];
        if (++idx[d] < shape[d]) break;
        for (size_t k = 0; k < K; ++k) offsets[k] -= strides[k][d] * shape[d];
        idx[d] = 0;
      }
    }
  });
}

// Calls f(offset) for every element of a tensor with `shape` and `strides`, row-major.
template <class F>
void for_each_strided(const Shape& shape, const Shape& strides, F&& f) {
  for_each_row<1>(shape, {strides}, [&](const std::array<int64_t, 1>& o, int64_t n, const std::array<int64_t, 1>& s) {
    for (int64_t i = 0; i < n; ++i) f(o[0] + i * s[0]);
  });
}

// Like for_each_strided for two tensors of the same logical shape: f(offset_a, offset_b).
template <class F>
void for_each_strided2(const Shape& shape, const Shape& sa, const Shape& sb, F&& f) {
  for_each_row<2>(shape, {sa, sb}, [&](const std::array<int64_t, 2>& o, int64_t n, const std::array<int64_t, 2>& s) {
    for (int64_t i = 0; i < n; ++i) f(o[0] + i * s[0], o[1] + i * s[1]);
  });
}

// Three tensors of the same logical shape: f(offset_a, offset_b, offset_c).
template <class F>
void for_each_strided3(const Shape& shape, const Shape& sa, const Shape& sb, const Shape& sc, F&& f) {
  for_each_row<3>(shape, {sa, sb, sc},
                  [&](const std::array<int64_t, 3>& o, int64_t n, const std::array<int64_t, 3>& s) {
                    for (int64_t i = 0; i < n; ++i) f(o[0] + i * s[0], o[1] + i * s[1], o[2] + i * s[2]);
                  });
}

// Strides that read a tensor of `shape`/`strides` broadcast to `target` (0 on broadcast dims).
inline Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& target) {
  Shape out(target.size(), 0);
  const size_t off = target.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) out[off + d] = shape[d] == 1 ? 0 : strides[d];
  return out;
}

}  // namespace pathgrad
