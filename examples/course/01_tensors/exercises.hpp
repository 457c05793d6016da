// Lesson 1 exercises: strides, broadcasting and a matrix product by hand.
// Reference solutions: solutions.cpp beside this file; tests: tests/course/test_01_tensors.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad::course {

// Exercise 1.1 — where an element lives.
// A tensor's element at index (i_0, ..., i_{n-1}) sits at
//     offset = i_0·strides[0] + ... + i_{n-1}·strides[n-1]
// elements past its first element (t.data<T>() points at that first element).
// Return that offset. `strides` and `index` have the same length (the tensor's number of dims).
// Hint: one loop. Views (transpose, narrow, expand) differ only in their strides and first element,
// so the same formula works for all of them; an expanded (broadcast) dim has stride 0.
int64_t element_offset(const Shape& strides, const std::vector<int64_t>& index);

// Exercise 1.2 — NumPy broadcasting of two shapes.
// Align the shapes at their last dims; missing leading dims count as 1. Each pair of sizes must be
// equal or contain a 1; the result takes the size that is not 1. E.g. [3, 1] and [4] -> [3, 4];
// [2, 1, 5] and [6, 1] -> [2, 6, 5]; [0, 3] and [1, 3] -> [0, 3] (an empty dim stays empty). Throw
// std::invalid_argument when two sizes differ and neither is 1 ([3] and [4]). Hint: walk both shapes from the back; the
// result has max(a.size(), b.size()) dims.
Shape broadcast_shape(const Shape& a, const Shape& b);

// Exercise 1.3 — the matrix product as three loops.
// a [n, k] and b [k, m], both float64 (any strides: read elements with element_offset or at()),
// -> c [n, m] float64 with c[i][j] = sum_p a[i][p]·b[p][j].
// Throw std::invalid_argument when the inner sizes differ or an operand is not 2-D float64.
// Hint: Tensor::zeros({n, m}, DType::Float64) and c.data<double>()[i * m + j]; this is the
// "naive" product the lesson's program races against OpenBLAS.
Tensor matmul_loops(const Tensor& a, const Tensor& b);

}  // namespace pathgrad::course
