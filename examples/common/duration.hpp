// Durations for progress lines: "42s", "3m07s", "1h05m".
#pragma once

#include <string>

namespace pathgrad::examples {

// `seconds` rounded to whole seconds, in the largest unit that applies (above).
std::string format_duration(double seconds);

}  // namespace pathgrad::examples
