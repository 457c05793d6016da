// DataLoader: epoch orders, batch slicing, the full-batch cache, checkpoints and iteration.
#include "nn/data/loader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "nn/data/generator_json.hpp"
#include "tensor/json_file.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::nn::data {

DataLoaderOptions::DataLoaderOptions(int64_t batch_size) : batch_size_(batch_size) {
  if (batch_size < 1)
    throw std::invalid_argument(fmt::format("DataLoaderOptions: batch_size must be >= 1, got {}", batch_size));
}

void to_json(nlohmann::json& j, const DataLoaderState& state) {
  j = {{"dataset_size", state.dataset_size},
       {"batch_size", state.batch_size},
       {"shuffle", state.shuffle},
       {"drop_last", state.drop_last},
       {"seed", state.seed},
       {"epoch", state.epoch},
       {"position", state.position},
       {"epoch_generator", generator_state_to_json(state.epoch_generator)},
       {"dataset_random_state", state.dataset_random_state}};
}

void from_json(const nlohmann::json& j, DataLoaderState& state) {
  try {
    state.dataset_size = json_int(j.at("dataset_size"), "dataset_size");
    state.batch_size = json_int(j.at("batch_size"), "batch_size", 1);
    state.shuffle = j.at("shuffle").get<bool>();
    state.drop_last = j.at("drop_last").get<bool>();
    state.seed = json_uint64(j.at("seed"), "seed");
    state.epoch = json_int(j.at("epoch"), "epoch");
    state.position = json_int(j.at("position"), "position");
    state.dataset_random_state = j.at("dataset_random_state");
    state.epoch_generator = generator_state_from_json(j.at("epoch_generator"));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("DataLoaderState from JSON: ") + e.what());
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("DataLoaderState from JSON: ") + e.what());
  }
}

DataLoader::DataLoader(const Dataset& dataset, DataLoaderOptions options)
    : dataset_(dataset), options_(options), generator_(options.seed()) {
  const int64_t n = dataset_.size(), b = options_.batch_size();
  batches_per_epoch_ = options_.drop_last() ? n / b : (n + b - 1) / b;
  if (batches_per_epoch_ == 0)
    throw std::invalid_argument(fmt::format("DataLoader: a dataset of {} examples gives no batch of size {}{}", n, b,
                                            options_.drop_last() ? " with drop_last" : ""));
  reuse_full_batch_ = !options_.shuffle() && b >= n && !dataset_.is_random();
  order_ = Tensor::arange(n, DType::Int64);
  start_epoch();
}

void DataLoader::start_epoch() {
  epoch_generator_ = generator_.state();
  if (options_.shuffle()) order_ = randperm(dataset_.size(), generator_);
}

const Batch& DataLoader::next() {
  if (position_ == batches_per_epoch_) {
    ++epoch_;
    position_ = 0;
    start_epoch();
  }
  const int64_t start = position_ * options_.batch_size();
  const int64_t length = std::min(options_.batch_size(), dataset_.size() - start);
  ++position_;
  if (reuse_full_batch_) {
    if (!cache_.x.defined()) cache_ = dataset_.get(order_);
    last_ = cache_;
  } else {
    last_ = dataset_.get(kernel::narrow(order_, 0, start, length).clone());
  }
  return last_;
}

const Batch& DataLoader::last_batch() const {
  if (!last_.x.defined()) throw std::logic_error("DataLoader::last_batch: no batch has been yielded yet");
  return last_;
}

DataLoaderState DataLoader::state() const {
  return {dataset_.size(), options_.batch_size(), options_.shuffle(),     options_.drop_last(), options_.seed(), epoch_,
          position_,       epoch_generator_,      dataset_.random_state()};
}

void DataLoader::set_state(const DataLoaderState& state) {
  const auto mismatch = [](const char* what, const auto& expected, const auto& found) {
    return std::invalid_argument(
        fmt::format("DataLoader::set_state: the state is for {} {}, this loader has {}", what, found, expected));
  };
  if (state.dataset_size != dataset_.size()) throw mismatch("dataset size", dataset_.size(), state.dataset_size);
  if (state.batch_size != options_.batch_size()) throw mismatch("batch_size", options_.batch_size(), state.batch_size);
  if (state.shuffle != options_.shuffle()) throw mismatch("shuffle", options_.shuffle(), state.shuffle);
  if (state.drop_last != options_.drop_last()) throw mismatch("drop_last", options_.drop_last(), state.drop_last);
  if (state.seed != options_.seed()) throw mismatch("seed", options_.seed(), state.seed);
  if (state.epoch < 0 || state.position < 0 || state.position > batches_per_epoch_)
    throw std::invalid_argument(
        fmt::format("DataLoader::set_state: expected epoch >= 0 and position in [0, {}], found epoch {} position {}",
                    batches_per_epoch_, state.epoch, state.position));
  if (state.dataset_random_state.is_null() == dataset_.is_random())
    throw std::invalid_argument(fmt::format("DataLoader::set_state: the state is for a {} dataset, this one is {}",
                                            dataset_.is_random() ? "deterministic" : "random",
                                            dataset_.is_random() ? "random" : "deterministic"));
  if (dataset_.is_random()) dataset_.set_random_state(state.dataset_random_state);
  epoch_ = state.epoch;
  position_ = state.position;
  generator_.set_state(state.epoch_generator);
  start_epoch();
  last_ = Batch{};
}

DataLoader::Iterator DataLoader::begin() {
  next();
  return Iterator(this);
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  if (loader_->position() < loader_->batches_per_epoch())
    loader_->next();
  else
    done_ = true;
  return *this;
}

}  // namespace pathgrad::nn::data
