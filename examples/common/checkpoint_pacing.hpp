// When a training loop's resume checkpoint is worth writing. Checkpoints are offered every
// --checkpoint-every steps; one is written when the time trained since the last one is at least
// kSpacing times what writing the last one took. A tracker's per-sample buffers (2.85 GB in the
// paper's grokking analysis, seconds to write) then go out less often than every offer, and
// checkpoints take at most about 1/kSpacing of the run; small checkpoints go out at every offer.
// A kill loses at most max(--checkpoint-every steps, kSpacing × one checkpoint's write time) of
// training, and nothing saved.
#pragma once

#include <cstdint>

#include "optim/communicator.hpp"

namespace pathgrad::examples {

class CheckpointPacing {
 public:
  static constexpr double kSpacing = 20;

  // At `now` (the run's training seconds), is a checkpoint offered now worth writing? Collective
  // over `comm` (every rank asks at the same step): rank 0's clock decides for all.
  bool due(double now, const optim::Communicator& comm) const {
    return comm.any(comm.is_root() && now - last_end_ >= kSpacing * last_write_);
  }
  // A checkpoint of the state after `step` was written from `start` to `end` (training seconds);
  // returns the seconds it took.
  double wrote(int64_t step, double start, double end) {
    last_step_ = step;
    last_end_ = end;
    last_write_ = end - start;
    return last_write_;
  }
  // Is the latest checkpoint of the state after `step`?
  bool holds(int64_t step) const { return last_step_ == step; }

 private:
  int64_t last_step_ = -1;
  double last_end_ = 0, last_write_ = 0;
};

}  // namespace pathgrad::examples
