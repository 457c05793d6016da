// The signal handlers behind StopOnSignal: they only set a flag.
#include "examples/common/stop_on_signal.hpp"

#include <csignal>

namespace pathgrad::examples {

namespace {
volatile std::sig_atomic_t g_stop_requested = 0;
extern "C" void request_stop(int) { g_stop_requested = 1; }
}  // namespace

StopOnSignal::StopOnSignal() {
  g_stop_requested = 0;
  old_int_ = std::signal(SIGINT, request_stop);
  old_term_ = std::signal(SIGTERM, request_stop);
}

StopOnSignal::~StopOnSignal() {
  std::signal(SIGINT, old_int_);
  std::signal(SIGTERM, old_term_);
}

bool StopOnSignal::requested() const { return g_stop_requested != 0; }

}  // namespace pathgrad::examples
