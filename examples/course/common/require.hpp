// The lessons' programs end with the checks of what they showed: require() stops the program
// (main catches it, prints the message and exits non-zero) when a claim does not hold.
#pragma once

#include <stdexcept>
#include <string>

namespace pathgrad::course {

inline void require(bool ok, const std::string& claim) {
  if (!ok) throw std::runtime_error("check failed: " + claim);
}

}  // namespace pathgrad::course
