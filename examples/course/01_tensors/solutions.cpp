// Lesson 1 reference solutions (exercises.hpp). Replace a body with your own to do an exercise.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "examples/course/01_tensors/exercises.hpp"

namespace pathgrad::course {

int64_t element_offset(const Shape& strides, const std::vector<int64_t>& index) {
  int64_t offset = 0;
  for (size_t d = 0; d < index.size(); ++d) offset += index[d] * strides[d];
  return offset;
}

Shape broadcast_shape(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {  // i counts dims from the back
    const int64_t sa = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t sb = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (sa != sb && sa != 1 && sb != 1)
      throw std::invalid_argument("broadcast_shape: sizes " + std::to_string(sa) + " and " + std::to_string(sb) +
                                  " do not broadcast");
    out[n - 1 - i] = sa == 1 ? sb : sa;  // not max: [0] and [1] broadcast to [0]
  }
  return out;
}

Tensor matmul_loops(const Tensor& a, const Tensor& b) {
  if (a.dim() != 2 || b.dim() != 2 || a.dtype() != DType::Float64 || b.dtype() != DType::Float64 ||
      a.size(1) != b.size(0))
    throw std::invalid_argument("matmul_loops: expected float64 [n, k] @ [k, m]");
  const int64_t n = a.size(0), k = a.size(1), m = b.size(1);
  const double* pa = a.data<double>();
  const double* pb = b.data<double>();
  const Shape& sa = a.strides();  // offsets as in exercise 1.1, written out for speed
  const Shape& sb = b.strides();
  Tensor c = Tensor::zeros({n, m}, DType::Float64);  // [n, m], contiguous
  double* pc = c.data<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < k; ++p) {  // i-p-j order: the inner loop walks a row of b and of c
      const double a_ip = pa[i * sa[0] + p * sa[1]];
      for (int64_t j = 0; j < m; ++j) pc[i * m + j] += a_ip * pb[p * sb[0] + j * sb[1]];
    }
  return c;
}

}  // namespace pathgrad::course
