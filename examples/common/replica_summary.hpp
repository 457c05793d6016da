// The replica-check section's text and table in a run report, from the tracker's summary.
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

}  // namespace pathgrad::examples
