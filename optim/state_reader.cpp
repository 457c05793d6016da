// StateReader: checked reading of an optimizer's state dict, and the scalar entries it reads.
#include "optim/state_reader.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>

namespace pathgrad::optim {

StateReader::StateReader(const NamedTensors& state, std::string who) : who_(std::move(who)) {
  for (const auto& [key, tensor] : state) {
    if (!tensor.defined()) fail(fmt::format("entry '{}' is an undefined tensor", key));
    if (!entries_.emplace(key, tensor).second) fail(fmt::format("entry '{}' appears twice", key));
    taken_[key] = false;
  }
}

void StateReader::fail(const std::string& message) const { throw std::invalid_argument(who_ + ": " + message); }

const Tensor& StateReader::find(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) fail(fmt::format("the state dict has no entry '{}'", key));
  return it->second;
}

Tensor StateReader::take(const std::string& key, const Shape& shape, DType dtype) {
  const Tensor& t = find(key);
  if (t.shape() != shape || t.dtype() != dtype)
    fail(fmt::format("entry '{}' has shape {} and dtype {}, expected shape {} and dtype {}", key, shape_str(t.shape()),
                     dtype_name(t.dtype()), shape_str(shape), dtype_name(dtype)));
  taken_[key] = true;
  return t.clone();
}

double StateReader::take_double(const std::string& key) {
  const Tensor& t = find(key);
  if (t.numel() != 1 || t.dtype() != DType::Float64)
    fail(fmt::format("entry '{}' must be one float64 value, got shape {} and dtype {}", key, shape_str(t.shape()),
                     dtype_name(t.dtype())));
  taken_[key] = true;
  return t.item();
}

int64_t StateReader::take_int(const std::string& key) {
  const Tensor& t = find(key);
  if (t.numel() != 1 || t.dtype() != DType::Int64)
    fail(fmt::format("entry '{}' must be one int64 value, got shape {} and dtype {}", key, shape_str(t.shape()),
                     dtype_name(t.dtype())));
  taken_[key] = true;
  return *t.contiguous().data<int64_t>();
}

std::string StateReader::take_text(const std::string& key) {
  const Tensor& t = find(key);
  if (t.dim() != 1 || t.dtype() != DType::UInt8)
    fail(fmt::format("entry '{}' must be a 1-d uint8 tensor of text, got shape {} and dtype {}", key,
                     shape_str(t.shape()), dtype_name(t.dtype())));
  taken_[key] = true;
  const Tensor c = t.contiguous();
  const auto* bytes = c.data<uint8_t>();
  return std::string(bytes, bytes + c.numel());
}

void StateReader::check_all_taken() const {
  std::string unexpected;
  for (const auto& [key, taken] : taken_)
    if (!taken) unexpected += (unexpected.empty() ? "'" : ", '") + key + "'";
  if (!unexpected.empty())
    fail("unexpected entries " + unexpected + " (saved for other parameters, other groups or another optimizer?)");
}

Tensor state_double(double value) { return Tensor::scalar(value, DType::Float64); }

Tensor state_int(int64_t value) { return Tensor::from_vector(std::vector<int64_t>{value}, Shape{}); }

Tensor state_text(const std::string& text) {
  return Tensor::from_buffer(text.data(), {static_cast<int64_t>(text.size())}, DType::UInt8);
}

}  // namespace pathgrad::optim
