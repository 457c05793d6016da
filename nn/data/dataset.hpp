// Datasets: the Batch a loader yields, the Dataset interface, and TensorDataset over whole tensors.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "tensor/tensor.hpp"

namespace pathgrad::nn::data {

// One mini-batch. `ids` are the examples' indices into the dataset they came from (for a training
// loader: training-set indices), so attributions can be reported per training example.
struct Batch {
  Tensor x;    // [B, ...] inputs
  Tensor y;    // [B] targets
  Tensor ids;  // int64 [B]
};

// A finite, indexable set of examples that is read a batch at a time.
class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual int64_t size() const = 0;
  // The examples `ids` (int64 [B], each in [0, size()), repeats allowed), in that order, with
  // `ids` itself as the batch's ids. Throws std::out_of_range for an index outside the dataset.
  virtual Batch get(const Tensor& ids) const = 0;

  // A dataset whose get() draws random numbers (a random augmentation) returns true: a loader then
  // never reuses one of its batches. Such a dataset keeps its generator as mutable state (get() is
  // const) and exposes it here so that a loader checkpoint restores it too (DataLoader::state()).
  // The defaults describe a deterministic dataset.
  virtual bool is_random() const { return false; }
  virtual nlohmann::json random_state() const { return nullptr; }
  virtual void set_random_state(const nlohmann::json& /*state*/) const {}
};

// Examples stored as whole tensors: X [N, ...] (any dtype) and Y [N]. A batch is gathered with
// index_select along dim 0 — one copy per tensor, no per-example objects.
class TensorDataset : public Dataset {
 public:
  // Throws std::invalid_argument unless X and Y are defined, Y is 1-D and X.size(0) == Y.size(0).
  TensorDataset(Tensor x, Tensor y);

  int64_t size() const override { return x_.size(0); }
  Batch get(const Tensor& ids) const override;  // x [B, ...], y [B]

  const Tensor& x() const { return x_; }
  const Tensor& y() const { return y_; }

 private:
  Tensor x_, y_;
};

}  // namespace pathgrad::nn::data
