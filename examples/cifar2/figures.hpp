// The plots of a CIFAR-2 report, rendered with explaind/report (gnuplot): each function draws
// one analysis into <run>/plots/ and returns what the report shows. The replica-check plots are
// the examples' common ones (examples/common/replica_figures.hpp).
#pragma once

#include <vector>

#include "examples/cifar2/metrics.hpp"
#include "examples/cifar2/run_dir.hpp"
#include "examples/common/component_influence.hpp"
#include "examples/common/figure_ref.hpp"

namespace pathgrad::cifar2 {

using examples::FigureRef;

// Loss and accuracy (training batch per step, test images per epoch) and the learning rate.
std::vector<FigureRef> plot_training_curves(const RunDir& dir, const Metrics& metrics);

// Per-layer influence on the probes' log-probability of their own class: the cumulative net
// influence of each layer over the epochs, the net influence per layer and epoch (heatmap), and
// the whole-run data and weight-decay parts per layer. `layers` are the display names of
// influence.components.
std::vector<FigureRef> plot_layer_influence(const RunDir& dir, const examples::ComponentInfluence& influence,
                                            const std::vector<std::string>& layers);

}  // namespace pathgrad::cifar2
