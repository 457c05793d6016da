// Fault points: a process-wide counter and, when PATHGRAD_KILL_AT_FAULT_POINT or
// PATHGRAD_FAIL_AT_FAULT_POINT is set, SIGKILL or an ENOSPC error at the chosen count.
#include "tensor/fault_point.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <string>
#include <system_error>

namespace pathgrad {

namespace {
// The count named by an environment variable, read once; 0 = never.
long count_from_env(const char* name) {
  const char* env = std::getenv(name);
  return env ? std::strtol(env, nullptr, 10) : 0L;
}
}  // namespace

void fault_point(const char* what) {
  static const long kill_at = count_from_env("PATHGRAD_KILL_AT_FAULT_POINT");
  static const long fail_at = count_from_env("PATHGRAD_FAIL_AT_FAULT_POINT");
  static std::atomic<long> count{0};
  const long n = ++count;
  if (n == kill_at) std::raise(SIGKILL);
  if (n == fail_at)
    throw std::system_error(ENOSPC, std::generic_category(),
                            std::string(what) + " (injected by PATHGRAD_FAIL_AT_FAULT_POINT)");
}

}  // namespace pathgrad
