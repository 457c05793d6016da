// Helpers of the tests that keep code shown in documents identical to the compiled code: the
// source tree's files, and the text between two markers.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "tensor/atomic_file.hpp"

namespace doc_sync {

// The file at `relative` in the source tree (PATHGRAD_SOURCE, set by tests/meson.build).
inline std::string source_file(const std::string& relative) {
  const char* source = std::getenv("PATHGRAD_SOURCE");
  REQUIRE_MESSAGE(source != nullptr, "PATHGRAD_SOURCE is not set (tests/meson.build sets it)");
  return pathgrad::read_file(std::string(source) + "/" + relative);
}

// The text between `begin` and `end` in `text` (both must be there).
inline std::string between(const std::string& text, const std::string& begin, const std::string& end) {
  const size_t b = text.find(begin);
  REQUIRE_MESSAGE(b != std::string::npos, "missing '", begin, "'");
  const size_t e = text.find(end, b + begin.size());
  REQUIRE_MESSAGE(e != std::string::npos, "missing '", end, "'");
  return text.substr(b + begin.size(), e - b - begin.size());
}

}  // namespace doc_sync
