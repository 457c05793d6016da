// Internal helpers that walk the elements of strided (possibly non-contiguous, possibly
// broadcast) tensors in row-major order, handing element offsets to a callback.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/shape.hpp"

namespace pathgrad {

// Calls f(offset) for every element of a tensor with `shape` and `strides`, row-major.
template <class F>
void for_each_strided(const Shape& shape, const Shape& strides, F&& f) {
  const int64_t n = numel(shape);
  if (n == 0) return;
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (nd == 0) { f(int64_t{0}); return; }
  std::vector<int64_t> idx(nd, 0);
  const int64_t inner = shape[nd - 1], inner_stride = strides[nd - 1];
  int64_t base = 0;
  for (int64_t done = 0; done < n; done += inner) {
    for (int64_t i = 0; i < inner; ++i) f(base + i * inner_stride);
    for (int64_t d = nd - 2; d >= 0; --d) {
      base += strides[d];
      if (++idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

// Like for_each_strided for two tensors of the same logical shape: f(offset_a, offset_b).
template <class F>
void for_each_strided2(const Shape& shape, const Shape& sa, const Shape& sb, F&& f) {
  const int64_t n = numel(shape);
  if (n == 0) return;
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (nd == 0) { f(int64_t{0}, int64_t{0}); return; }
  std::vector<int64_t> idx(nd, 0);
  const int64_t inner = shape[nd - 1], ia = sa[nd - 1], ib = sb[nd - 1];
  int64_t a = 0, b = 0;
  for (int64_t done = 0; done < n; done += inner) {
    for (int64_t i = 0; i < inner; ++i) f(a + i * ia, b + i * ib);
    for (int64_t d = nd - 2; d >= 0; --d) {
      a += sa[d];
      b += sb[d];
      if (++idx[d] < shape[d]) break;
      a -= sa[d] * shape[d];
      b -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
}

// Three tensors of the same logical shape: f(offset_a, offset_b, offset_c).
template <class F>
void for_each_strided3(const Shape& shape, const Shape& sa, const Shape& sb, const Shape& sc, F&& f) {
  const int64_t n = numel(shape);
  if (n == 0) return;
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (nd == 0) { f(int64_t{0}, int64_t{0}, int64_t{0}); return; }
  std::vector<int64_t> idx(nd, 0);
  const int64_t inner = shape[nd - 1], ia = sa[nd - 1], ib = sb[nd - 1], ic = sc[nd - 1];
  int64_t a = 0, b = 0, c = 0;
  for (int64_t done = 0; done < n; done += inner) {
    for (int64_t i = 0; i < inner; ++i) f(a + i * ia, b + i * ib, c + i * ic);
    for (int64_t d = nd - 2; d >= 0; --d) {
      a += sa[d];
      b += sb[d];
      c += sc[d];
      if (++idx[d] < shape[d]) break;
      a -= sa[d] * shape[d];
      b -= sb[d] * shape[d];
      c -= sc[d] * shape[d];
      idx[d] = 0;
    }
  }
}

// Strides that read a tensor of `shape`/`strides` broadcast to `target` (0 on broadcast dims).
inline Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& target) {
  Shape out(target.size(), 0);
  const size_t off = target.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d)
    out[off + d] = shape[d] == 1 ? 0 : strides[d];
  return out;
}

}  // namespace pathgrad
