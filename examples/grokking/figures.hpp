// The plots of a grokking report, rendered with explaind/report (gnuplot): each function draws
// one analysis into <run>/plots/ and returns what the report shows — the image's path relative
// to the run directory and its caption.
#pragma once

#include <string>
#include <vector>

#include "examples/common/figure_ref.hpp"
#include "examples/grokking/influence.hpp"
#include "examples/grokking/metrics.hpp"
#include "examples/grokking/replica_check.hpp"
#include "examples/grokking/run_dir.hpp"
#include "examples/grokking/swap.hpp"

namespace pathgrad::grokking {

using examples::FigureRef;

// Accuracy and loss per step, with the memorisation and generalisation markers.
std::vector<FigureRef> plot_training_curves(const RunDir& dir, const Metrics& metrics);
// Replica against the model, per-step residuals, mean step influence.
std::vector<FigureRef> plot_replica_check(const RunDir& dir, const ReplicaCheck& check, const Metrics& metrics);
// Cumulative influence per component over the windows, and the whole-run balance per component.
std::vector<FigureRef> plot_component_influence(const RunDir& dir, const ComponentInfluence& influence,
                                                const std::string& name, const std::string& what);
// One heatmap per similarity matrix.
std::vector<FigureRef> plot_similarities(const RunDir& dir, const std::vector<Similarity>& matrices,
                                         const SumOrder& order);
// One heatmap per data-influence matrix.
std::vector<FigureRef> plot_data_influences(const RunDir& dir, const std::vector<DataInfluence>& matrices,
                                            const SumOrder& order);
// Validation accuracy and KL to the final model of the swapped models against i.
std::vector<FigureRef> plot_swap(const RunDir& dir, const SwapResult& swap, const Metrics& metrics);

}  // namespace pathgrad::grokking
