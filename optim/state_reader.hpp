// Reading an optimizer's state dict back, with checks: every entry is taken by key with the shape
// and dtype it must have, and entries nobody took are reported. Used by load_state_dict().
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "tensor/tensor.hpp"

namespace pathgrad::optim {

class StateReader {
 public:
  // `who` prefixes every error message, e.g. "Adam::load_state_dict".
  StateReader(const NamedTensors& state, std::string who);

  bool has(const std::string& key) const { return entries_.count(key) != 0; }
  // A fresh copy of the entry at `key`. Throws std::invalid_argument naming the key when it is
  // missing or its shape or dtype differs from the expected one.
  Tensor take(const std::string& key, const Shape& shape, DType dtype);
  // A one-element float64 entry (a hyperparameter).
  double take_double(const std::string& key);
  // A one-element int64 entry (a step count, a group index).
  int64_t take_int(const std::string& key);
  // A uint8 entry holding text (the optimizer's name).
  std::string take_text(const std::string& key);
  // Throws std::invalid_argument listing the entries no take*() call asked for.
  void check_all_taken() const;
  // Throws std::invalid_argument "<who>: <message>".
  [[noreturn]] void fail(const std::string& message) const;

 private:
  const Tensor& find(const std::string& key) const;
  std::map<std::string, Tensor> entries_;
  std::map<std::string, bool> taken_;
  std::string who_;
};

// The entries StateReader reads back, for Optimizer::state_dict().
Tensor state_double(double value);
Tensor state_int(int64_t value);
Tensor state_text(const std::string& text);

}  // namespace pathgrad::optim
