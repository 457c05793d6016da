// Where every output of a grokking run goes, relative to the run directory (--out): the
// examples' common layout (examples/common/run_dir.hpp) and the data split.
#pragma once

#include <string>

#include "examples/common/run_dir.hpp"

namespace pathgrad::grokking {

struct RunDir : examples::RunDir {
  std::string split_csv() const { return file("split.csv"); }
};

}  // namespace pathgrad::grokking
