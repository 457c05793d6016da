// DataLoader: deterministic mini-batches over a Dataset, epoch after epoch, resumable exactly.
//
//   DataLoader loader(train, DataLoaderOptions(64).shuffle(true).seed(1));
//   for (const Batch& b : loader) { ... }          // one epoch (the rest of it, after a resume)
//   const Batch& b = loader.next();                 // or step by step, across epoch boundaries
//
// Order. Each epoch visits every example exactly once: in index order without shuffling, else in
// the order of a fresh permutation randperm(N, gen) drawn from the loader's own Generator, seeded
// with options.seed(), when the epoch starts. Batches are consecutive slices of that order; the
// last one is smaller when batch_size does not divide N, and is left out with drop_last(true).
//
// Position. epoch() is the epoch the latest batch came from (0 before any) and position() the
// number of its batches yielded so far, 0 <= position() <= batches_per_epoch(). A call to next()
// when position() == batches_per_epoch() starts the following epoch. A range-for loop yields the
// remaining batches of the current epoch, or a whole new epoch if the current one is complete;
// leaving it early with break and starting another loop continues where the first stopped.
//
// Resuming. state() captures everything that determines the remaining batches; set_state() on a
// loader over the same dataset with the same options continues with identical batches — also
// across epoch boundaries, and including the random state of an augmenting dataset.
//
// Full batch. Without shuffling, a deterministic dataset and batch_size >= N, the one batch is
// gathered once and yielded again every epoch (no copy per step).
//
// Batches are shared with the loader (last_batch()) and possibly with later epochs: treat them as
// read-only.
#pragma once

#include <cstdint>
#include <iterator>
#include <nlohmann/json.hpp>

#include "nn/data/dataset.hpp"
#include "nn/options.hpp"
#include "tensor/random.hpp"

namespace pathgrad::nn::data {

class DataLoaderOptions {
 public:
  // Throws std::invalid_argument unless batch_size >= 1.
  explicit DataLoaderOptions(int64_t batch_size);
  // Fixed at construction (checked there): a getter only.
  int64_t batch_size() const { return batch_size_; }

  PATHGRAD_ARG(bool, shuffle) = false;
  PATHGRAD_ARG(uint64_t, seed) = 0;
  PATHGRAD_ARG(bool, drop_last) = false;

 private:
  int64_t batch_size_;
};

// A loader's checkpoint. The configuration fields are checked by set_state(); the permutation of
// the current epoch is not stored but rebuilt from the generator state it was drawn from.
struct DataLoaderState {
  // configuration, checked on restore
  int64_t dataset_size = 0;
  int64_t batch_size = 0;
  bool shuffle = false;
  bool drop_last = false;
  uint64_t seed = 0;
  // position
  int64_t epoch = 0;
  int64_t position = 0;
  Generator::State epoch_generator{};   // the generator just before this epoch's permutation
  nlohmann::json dataset_random_state;  // Dataset::random_state(), null for a deterministic one
};
// nlohmann-json conversions (found by ADL: `nlohmann::json j = state; j.get<DataLoaderState>()`).
// from_json throws std::invalid_argument naming a missing or mistyped field.
void to_json(nlohmann::json& j, const DataLoaderState& state);
void from_json(const nlohmann::json& j, DataLoaderState& state);

class DataLoader {
 public:
  // Keeps a reference to `dataset`, which must outlive the loader. Throws std::invalid_argument
  // when an epoch would have no batch (an empty dataset, or drop_last with N < batch_size).
  DataLoader(const Dataset& dataset, DataLoaderOptions options);
  DataLoader(const Dataset&& temporary, DataLoaderOptions options) = delete;  // a temporary would dangle

  // The next batch: the following slice of the current epoch, or the first of the next epoch.
  const Batch& next();
  // The batch most recently returned by next() or yielded by iteration. Throws std::logic_error
  // before the first one (also right after set_state()).
  const Batch& last_batch() const;

  int64_t epoch() const { return epoch_; }
  int64_t position() const { return position_; }
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  const DataLoaderOptions& options() const { return options_; }
  const Dataset& dataset() const { return dataset_; }

  DataLoaderState state() const;
  // Throws std::invalid_argument when the state comes from a loader with another dataset size or
  // other options, or holds a position outside [0, batches_per_epoch()].
  void set_state(const DataLoaderState& state);

  // Range-for over (the rest of) one epoch; see the header comment.
  class Iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    explicit Iterator(DataLoader* loader) : loader_(loader) {}
    const Batch& operator*() const { return loader_->last_batch(); }
    const Batch* operator->() const { return &loader_->last_batch(); }
    Iterator& operator++();
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return done_; }

   private:
    DataLoader* loader_;
    bool done_ = false;
  };
  Iterator begin();
  std::default_sentinel_t end() { return {}; }

 private:
  void start_epoch();  // draws the epoch's order from the generator (when shuffling)

  const Dataset& dataset_;
  DataLoaderOptions options_;
  int64_t batches_per_epoch_;
  Generator generator_;
  Generator::State epoch_generator_{};
  Tensor order_;  // int64 [N]: this epoch's order of the examples
  int64_t epoch_ = 0;
  int64_t position_ = 0;
  Batch last_;
  bool reuse_full_batch_;  // every epoch is the same single batch: gather it once into cache_
  Batch cache_;
};

}  // namespace pathgrad::nn::data
