// A figure of a run report: the image's path relative to the run directory and its caption, and
// rendering a figure (explaind/report) into the run's plots/ folder.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "examples/common/run_dir.hpp"
#include "explaind/report/report.hpp"

namespace pathgrad::examples {

struct FigureRef {
  std::string path;  // relative to the run directory
  std::string caption;
};

// Renders `figure` (any explaind/report figure type) to plots/<name>.png of the run and returns
// its reference.
template <class F>
FigureRef render(const RunDir& dir, const F& figure, const std::string& name, std::string caption) {
  figure.render(dir.file(RunDir::plot(name)));
  return {RunDir::plot(name), std::move(caption)};
}

// Adds every figure to the report, in order.
inline void add_figures(explaind::report::Report& r, const std::vector<FigureRef>& figures) {
  for (const FigureRef& f : figures) r.figure(f.path, f.caption);
}

}  // namespace pathgrad::examples
