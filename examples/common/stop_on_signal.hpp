// Ctrl-C and SIGTERM as a request to pause a training loop: while a StopOnSignal lives, the two
// signals set a flag instead of killing the process, and the loop checks it after each step (to
// write a checkpoint and exit cleanly).
#pragma once

namespace pathgrad::examples {

// Installs the handlers on construction and restores the previous ones on destruction. One at a
// time: constructing it clears any earlier request.
class StopOnSignal {
 public:
  StopOnSignal();
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
  // True once SIGINT or SIGTERM has arrived since construction.
  bool requested() const;

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

}  // namespace pathgrad::examples
