// Random horizontal flips of image batches: a Dataset wrapping another one (CIFAR augmentation).
//
// Each get() draws one uniform number per example, in batch order, from the wrapper's own
// Generator; the examples whose number is below `probability` have their last dim (W) reversed.
// The flips are therefore fixed by the seed and the sequence of batches requested; the generator
// is part of the random state a DataLoader checkpoint saves (Dataset::random_state()).
//
// Only a loader should call get(): every call advances the generator. To look at the data
// without augmentation, use base().
#pragma once

#include <cstdint>

#include "nn/data/dataset.hpp"
#include "tensor/random.hpp"

namespace pathgrad::nn::data {

class RandomHorizontalFlip : public Dataset {
 public:
  // Keeps a reference to `base`, which must outlive the wrapper. Throws std::invalid_argument
  // unless probability is in [0, 1].
  RandomHorizontalFlip(const Dataset& base, uint64_t seed, double probability = 0.5);
  // A temporary base would dangle.
  RandomHorizontalFlip(const Dataset&& temporary, uint64_t seed, double probability = 0.5) = delete;

  int64_t size() const override { return base_.size(); }
  // base.get(ids) with x [B, ..., W] (at least 2 dims, any dtype) flipped per example as above,
  // in a new tensor (the base's batch is not modified).
  Batch get(const Tensor& ids) const override;

  bool is_random() const override { return true; }
  nlohmann::json random_state() const override;
  void set_random_state(const nlohmann::json& state) const override;

  const Dataset& base() const { return base_; }

 private:
  const Dataset& base_;
  double probability_;
  mutable Generator generator_;  // advanced by get(), which is const like every Dataset::get
};

}  // namespace pathgrad::nn::data
