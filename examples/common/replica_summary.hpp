// The replica-check section's text and table in a run report, from the tracker's summary, and the
// memory line the examples print at the end of a tracked run.
#pragma once

#include <string>

#include "explaind/report/report.hpp"
#include "explaind/summary.hpp"

namespace pathgrad::examples {

// Adds the paragraph explaining the replica and the table of the summary's figures.
// `output_scale_name` describes the output scale ("mean |log p(label)|"); `all_outputs_hint` is
// shown for the argmax agreement and KL when no probe is tracked on all outputs (how to get them).
void add_replica_summary(explaind::report::Report& r, const explaind::Summary& s, const std::string& output_scale_name,
                         const std::string& all_outputs_hint);

// "memory: tensors held at most … in a tracked step, the process … at its peak (stated before
// training: …)": the summary's peak_tensor_bytes, this process's peak resident size so far
// (getrusage: program, data, the storage cache's room included) and the tracker's statement.
std::string memory_line(const explaind::Summary& s, const explaind::Cost& stated);

}  // namespace pathgrad::examples
