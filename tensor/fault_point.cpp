// Fault points: a process-wide counter and, when PATHGRAD_KILL_AT_FAULT_POINT is set, SIGKILL
// at the chosen count.
#include "tensor/fault_point.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

namespace pathgrad {

namespace {
// The count to die at, read once; 0 = never.
long kill_at() {
  static const long n = [] {
    const char* env = std::getenv("PATHGRAD_KILL_AT_FAULT_POINT");
    return env ? std::strtol(env, nullptr, 10) : 0L;
  }();
  return n;
}
}  // namespace

void fault_point(const char* what) {
  static std::atomic<long> count{0};
  const long n = ++count;
  if (kill_at() > 0 && n == kill_at()) {
    (void)what;
    std::raise(SIGKILL);
  }
}

}  // namespace pathgrad
