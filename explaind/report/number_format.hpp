// The text of a floating-point number that reads back to the same value (shortest round trip),
// shared by the CSV writer and the gnuplot scripts.
#pragma once

#include <charconv>
#include <cmath>
#include <concepts>
#include <string>

namespace pathgrad::explaind::report {

// Shortest decimal text that parses back to exactly `value` ("0.1", "1e-07", "420");
// non-finite values are "nan", "inf" and "-inf". The float overload is shortest for a float
// (0.1f is "0.1", not "0.10000000149011612").
template <class T>
requires std::same_as<T, double> || std::same_as<T, float> std::string format_number(T value) {
  if (std::isnan(value)) return "nan";
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, result.ptr);
}

}  // namespace pathgrad::explaind::report
