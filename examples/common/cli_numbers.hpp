// Numeric command-line flags that are read exactly or rejected, for the examples' CLI11 parsers.
//
// CLI11 converts numbers with strtoll/strtoull/strtod, which saturate or wrap values out of range
// without a word: "--seed 18446744073709551616" and "--seed -1" both became 2^64 - 1, "--steps
// 99999999999999999999" became 2^63 - 1, "--lr 1e999" became infinity. number_option() adds a flag
// whose every value must be a whole number of the field's integer type (no sign on an unsigned
// one) or a finite floating-point number, else CLI11 reports the flag and the reason.
#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace pathgrad::examples {

// The reason `text` is not an exact value of T ("" when it is one).
template <class T>
std::string number_problem(const std::string& text) {
  if constexpr (std::is_integral_v<T>) {
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range)
      return fmt::format("{} is out of range [{}, {}]", text, std::numeric_limits<T>::min(),
                         std::numeric_limits<T>::max());
    if (ec != std::errc() || end != text.data() + text.size())
      return fmt::format("{} is not a {}whole number", text, std::is_signed_v<T> ? "" : "non-negative ");
    return "";
  } else {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) return fmt::format("{} is not a number", text);
    if (!std::isfinite(value) || !std::isfinite(static_cast<T>(value)))
      return fmt::format("{} is not a finite number", text);
    return "";
  }
}

template <class T>
struct element_type {
  using type = T;
};
template <class T>
struct element_type<std::vector<T>> {
  using type = T;
};

// app.add_option(name, value, help) for a numeric field (or a vector of them), every value
// checked by number_problem.
template <class T>
CLI::Option* number_option(CLI::App& app, const std::string& name, T& value, const std::string& help) {
  using E = typename element_type<T>::type;
  static_assert(std::is_arithmetic_v<E>, "number_option is for numeric flags");
  return app.add_option(name, value, help)
      ->check(CLI::Validator([](std::string& text) { return number_problem<E>(text); }, "", "exact number"));
}

}  // namespace pathgrad::examples
