// Formatting durations for progress lines.
#include "examples/common/duration.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace pathgrad::examples {

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace pathgrad::examples
