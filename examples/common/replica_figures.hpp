// The plots of a replica check (examples/common/replica_check.hpp), shared by the examples'
// reports: the kernel machine against the model, the per-step residuals, and the step-wise
// influence with its running sum.
#pragma once

#include <string>
#include <vector>

#include "examples/common/figure_ref.hpp"
#include "examples/common/replica_check.hpp"

namespace pathgrad::examples {

// Replica against the model per probe scalar (x axis labelled `output_label`, e.g.
// "model: log p(label)"), the absolute replica error per probe scalar, and — when any residual
// is non-zero — the largest and mean |ρ_s| per step.
std::vector<FigureRef> plot_replica_fit(const RunDir& dir, const ReplicaCheck& check, const std::string& output_label);

// A named curve over the steps 0 .. S-1, and a dashed vertical marker at a step.
struct StepSeries {
  std::string name;
  std::vector<double> values;
};
struct StepMarker {
  double step;
  std::string label;
};
// What the two step-influence plots say: y labels and captions.
struct StepInfluenceText {
  std::string ylabel, cumulative_ylabel, caption, cumulative_caption;
};
// The step-wise influence of each series (symmetric log scale) and its running sum, both with
// the markers: plots/step_influence.png and plots/cumulative_influence.png.
std::vector<FigureRef> plot_step_influence(const RunDir& dir, const std::vector<double>& steps,
                                           const std::vector<StepSeries>& series,
                                           const std::vector<StepMarker>& markers, const StepInfluenceText& text);

}  // namespace pathgrad::examples
