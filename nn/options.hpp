// The options idiom of every options class (layers', optimizers', the tracker's): PATHGRAD_ARG
// declares one option with a chained setter and a getter, so that options read like
// `LinearOptions(4, 3).bias(false)` and `SGDOptions(0.1).momentum(0.9)`, and `opts.momentum()`
// reads one back (libtorch's TORCH_ARG); check_positive validates a size.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace pathgrad::nn {
// Throws std::invalid_argument "<layer>: <what> must be positive, got <value>" unless value > 0.
inline void check_positive(const std::string& layer, const char* what, int64_t value) {
  if (value <= 0) throw std::invalid_argument(layer + ": " + what + " must be positive, got " + std::to_string(value));
}
}  // namespace pathgrad::nn

// Inside an options struct, `PATHGRAD_ARG(bool, bias) = true;` declares a private member `bias_`
// (default true), a setter `bias(bool)` returning the struct for chaining, and a getter `bias()`.
// Access is private after the macro: write constructors before the first PATHGRAD_ARG.
#define PATHGRAD_ARG(T, name)                           \
 public:                                                \
  auto& name(T value) {                                 \
    name##_ = std::move(value);                         \
    return *this;                                       \
  }                                                     \
  const auto& name() const noexcept { return name##_; } \
                                                        \
 private:                                               \
  T name##_
