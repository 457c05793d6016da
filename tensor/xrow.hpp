// Rows of the kernels' strided walks (tensor/strided.hpp) as xtensor expressions: a kernel's inner
// loop is written `xt::noalias(xrow(y, n)) = f(xrow(x, n))` and xtensor's assignment runs it.
//
// Contracts: the views copy nothing and do not keep the memory alive; writes through them go to
// the pointed-to elements. Assign with xt::noalias: a plain `=` evaluates into a temporary first.
// Make the destination row in the assignment itself (`xt::noalias(xrow(y, n)) = ...`): assigning
// to a named row variable instead measured 4x slower from a strided row (relu of a transposed
// [4096, 256], `bench_kernels 1`).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xtensor/xadapt.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xstrided_view.hpp>

namespace pathgrad {

// The n contiguous elements from p, as a 1-D xtensor expression [n].
template <class T>
auto xrow(T* p, int64_t n) {
  const auto size = static_cast<std::size_t>(n);
  return xt::adapt(p, size, xt::no_ownership(), std::array<std::size_t, 1>{size});
}

// n elements from p, `step` elements apart (step >= 0; 0 repeats *p), as a 1-D expression [n]:
// the elements it reaches, flat, seen through a strided view (as as_xtensor does).
template <class T>
auto xrow(T* p, int64_t n, int64_t step) {
  const auto reach = static_cast<std::size_t>(n == 0 ? 0 : (n - 1) * step + 1);
  return xt::strided_view(xrow(p, static_cast<int64_t>(reach)), std::array<std::size_t, 1>{static_cast<std::size_t>(n)},
                          std::array<std::ptrdiff_t, 1>{static_cast<std::ptrdiff_t>(step)}, 0,
                          xt::layout_type::dynamic);
}

// Calls g(row) with the n elements from p, `step` apart, as an xtensor expression: the contiguous
// one of the two above when step is 1 (xtensor then assigns it as a flat loop).
template <class T, class G>
void with_xrow(T* p, int64_t n, int64_t step, G&& g) {
  if (step == 1)
    g(xrow(p, n));
  else
    g(xrow(p, n, step));
}

// The element type of a row expression (without const): the type scalars are converted to.
template <class E>
using elem_t = std::remove_const_t<typename std::decay_t<E>::value_type>;

}  // namespace pathgrad
