// Element types a Tensor can hold, their sizes and names, and the error for a wrong one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pathgrad {

enum class DType { Float32, Float64, Int64, UInt8 };

std::size_t dtype_size(DType dtype);
// "float32", "float64", "int64", "uint8"
const char* dtype_name(DType dtype);
inline bool is_floating_point(DType d) { return d == DType::Float32 || d == DType::Float64; }

// The C++ type of each dtype, for templates.
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::Float32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::Float64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::Int64;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::UInt8;
}

// Throws std::invalid_argument "<op>: got dtype <d>, expected <expected>".
[[noreturn]] void throw_dtype_error(const std::string& op, DType got, const std::string& expected);

}  // namespace pathgrad
