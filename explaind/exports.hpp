// The exports of a tracked run (schema in docs/explaind-exports.md): manifest.json naming every
// array with its axes and labels, the .npy arrays, and summary.json with the replica's accuracy.
#pragma once

#include <string>

#include "explaind/path_kernel.hpp"
#include "explaind/summary.hpp"

namespace pathgrad::explaind {

// The replica and residual figures of a finished PathKernel.
Summary summarize(const PathKernel& kernel);

// Writes manifest.json, summary.json and the in-memory arrays into `dir` (the streamed arrays
// are already there). Every file is written atomically.
void write_exports(const std::string& dir, const PathKernel& kernel, const Summary& summary, const Cost& cost);

// The figures of <dir>/summary.json, as write_exports wrote them. Throws std::runtime_error naming
// the file and the field when it is missing or malformed.
Summary read_summary(const std::string& dir);

}  // namespace pathgrad::explaind
