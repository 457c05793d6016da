// Zero-copy views between pathgrad::Tensor and xtensor (0.24), for numpy-like computation on
// tensors: broadcasting arithmetic, reductions, sorting, masks (xt::argsort, xt::filter, ...).
//
//   Tensor img = ...;                                    // float32 [3, H, W]
//   auto v = as_xtensor<float>(img);                     // a view: writes go to img's memory
//   v = v * xt::adapt(std_dev, {3, 1, 1}) + xt::adapt(mean, {3, 1, 1});
//   Tensor order = from_xtensor(xt::argsort(as_xtensor<const double>(scores)));  // int64
//
// Contracts:
// - as_xtensor<T>(t) views the elements of `t` in place with its shape, strides and offset (a
//   narrowed or transposed tensor is viewed as it is, nothing is copied). T must be the tensor's
//   element type (float, double or int64_t; const-qualified for a read-only view), else
//   std::invalid_argument names both. The view does not keep the storage alive: keep the Tensor
//   (or a handle sharing its storage) while the view is used. Tensors with negative strides are
//   refused (pathgrad creates none).
// - from_xtensor(e) evaluates any xtensor expression of float, double or int64 elements into a new
//   contiguous Tensor of that dtype and shape (a 0-d expression gives a 0-d tensor).
// - Neither records autograd history: these are for analyses of values, like the kernels.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xstrided_view.hpp>

#include "tensor/tensor.hpp"

namespace pathgrad {

namespace detail {
template <class T>
constexpr DType dtype_of() {
  using U = std::remove_const_t<T>;
  static_assert(std::is_same_v<U, float> || std::is_same_v<U, double> || std::is_same_v<U, int64_t>,
                "pathgrad tensors hold float, double or int64_t elements");
  if constexpr (std::is_same_v<U, float>)
    return DType::Float32;
  else if constexpr (std::is_same_v<U, double>)
    return DType::Float64;
  else
    return DType::Int64;
}

// Elements from the first to the last one the view reaches: 1 + Σ (n_d − 1)·stride_d.
inline std::size_t span_of(const Tensor& t) {
  int64_t span = 1;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.strides()[d] < 0) throw std::invalid_argument("as_xtensor: a tensor with negative strides cannot be viewed");
    if (t.shape()[d] == 0) return 0;
    span += (t.shape()[d] - 1) * t.strides()[d];
  }
  return static_cast<std::size_t>(span);
}
}  // namespace detail

template <class T>
auto as_xtensor(const Tensor& t) {
  constexpr DType want = detail::dtype_of<T>();
  if (t.dtype() != want)
    throw std::invalid_argument(std::string("as_xtensor: the tensor is ") + dtype_name(t.dtype()) +
                                ", the view's element type " + dtype_name(want));
  std::vector<std::size_t> shape(t.shape().begin(), t.shape().end());
  std::vector<std::ptrdiff_t> strides(t.strides().begin(), t.strides().end());
  const std::size_t span = detail::span_of(t);
  T* first = t.data<std::remove_const_t<T>>();
  // The elements the tensor reaches, flat, seen through its own shape and strides.
  auto flat = xt::adapt(first, span, xt::no_ownership(), std::vector<std::size_t>{span});
  return xt::strided_view(std::move(flat), std::move(shape), std::move(strides), 0, xt::layout_type::dynamic);
}

template <class E>
Tensor from_xtensor(const xt::xexpression<E>& expression) {
  using T = typename E::value_type;
  const xt::xarray<T, xt::layout_type::row_major> values = expression.derived_cast();  // evaluated, row-major
  const Shape shape(values.shape().begin(), values.shape().end());
  return Tensor::from_buffer(values.data(), shape, detail::dtype_of<T>());
}

}  // namespace pathgrad
