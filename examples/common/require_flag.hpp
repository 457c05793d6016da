// Configuration checks that name the command-line flag at fault.
#pragma once

#include <stdexcept>
#include <string>

namespace pathgrad::examples {

// Throws std::invalid_argument("--<flag>: <what>") unless `ok`.
inline void require_flag(bool ok, const std::string& flag, const std::string& what) {
  if (!ok) throw std::invalid_argument("--" + flag + ": " + what);
}

}  // namespace pathgrad::examples
