// Where every output of a CIFAR-2 run goes, relative to the run directory (--out): the
// examples' common layout (examples/common/run_dir.hpp) and the per-epoch test metrics.
#pragma once

#include <string>

#include "examples/common/run_dir.hpp"

namespace pathgrad::cifar2 {

struct RunDir : examples::RunDir {
  std::string epochs_csv() const { return file("epochs.csv"); }
  // The importance images' tracker exports (the pruning experiment).
  std::string importance() const { return file("explaind_importance"); }
};

}  // namespace pathgrad::cifar2
