// Where every output of a CIFAR-2 run goes, relative to the run directory (--out): the
// examples' common layout (examples/common/run_dir.hpp) and the per-epoch test metrics.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "examples/common/run_dir.hpp"

namespace pathgrad::cifar2 {

struct RunDir : examples::RunDir {
  std::string epochs_csv() const { return file("epochs.csv"); }
  // The importance images' tracker exports (the pruning experiment): chunk 0 (the training
  // pass's) in explaind_importance/, chunk k ≥ 1 (a rerun's) in explaind_importance_<k>/.
  std::string importance(int64_t chunk = 0) const {
    return chunk == 0 ? file("explaind_importance") : file(fmt::format("explaind_importance_{}", chunk));
  }
  // The resume checkpoint of chunk k's rerun while it runs.
  std::string importance_checkpoint(int64_t chunk) const {
    return file(fmt::format("checkpoint_importance_{}", chunk));
  }
};

}  // namespace pathgrad::cifar2
