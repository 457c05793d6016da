// TensorDataset: shape checks and gathering a batch with index_select.
#include "nn/data/dataset.hpp"

#include <stdexcept>
#include <utility>

#include "tensor/kernels.hpp"

namespace pathgrad::nn::data {

TensorDataset::TensorDataset(Tensor x, Tensor y) : x_(std::move(x)), y_(std::move(y)) {
  if (!x_.defined() || !y_.defined()) throw std::invalid_argument("TensorDataset: X and Y must be defined tensors");
  if (x_.dim() < 1 || y_.dim() != 1 || x_.size(0) != y_.size(0))
    throw std::invalid_argument("TensorDataset: expected X [N, ...] and Y [N], got X " + shape_str(x_.shape()) +
                                " and Y " + shape_str(y_.shape()));
}

Batch TensorDataset::get(const Tensor& ids) const {
  return {kernel::index_select(x_, 0, ids), kernel::index_select(y_, 0, ids), ids};
}

}  // namespace pathgrad::nn::data
