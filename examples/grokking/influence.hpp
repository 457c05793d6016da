// The influence analyses of a tracked grokking run, computed from the tracker's exports:
// component influence per window (data and weight-decay parts), similarity matrices of the
// sample-level probes' parameter influence per component, and probe x training-sample data
// influence — every matrix sorted by a + b.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "examples/common/component_influence.hpp"
#include "nn/data/modular.hpp"

namespace pathgrad::grokking {

// The components the report discusses, named as in the tracker's exports: the model's layers
// (MLP layers with their biases) and then each attention head.
std::vector<std::string> layer_components();
std::vector<std::string> head_component_names(int64_t heads);

using examples::ComponentInfluence;
using examples::StepRange;
using examples::TrackerExports;

// Mean over validation probes (the label's log-probability) of each component's influence.
using examples::component_influence;

// Cosine similarity between the sample-level probes' parameter-influence vectors (data part)
// restricted to one component, rows and columns sorted by a + b.
struct Similarity {
  std::string component;
  StepRange range;
  Tensor matrix;  // float64 [M_s, M_s]
};

// Data influence of every training sample on every sample-level probe over a range of steps,
// probes (rows) and training samples (columns) sorted by a + b.
struct DataInfluence {
  StepRange range;
  Tensor matrix;  // float64 [M_s, N]
};

// How the sample-level probes and the training samples are sorted, with their a + b.
struct SumOrder {
  std::vector<int64_t> probe_order, probe_sums;    // positions on axis sample_level_probe
  std::vector<int64_t> sample_order, sample_sums;  // training-set indices
};
SumOrder sum_order(const TrackerExports& exports, const nn::data::ModularData& data);

// One entry per window, then the whole run, for each component (needs the "full" level).
std::vector<Similarity> similarities(const TrackerExports& exports, const std::vector<std::string>& components,
                                     const SumOrder& order);
// One entry per window, then the whole run (needs the "samples" level).
std::vector<DataInfluence> data_influences(const TrackerExports& exports, const SumOrder& order);

// Row-wise cosine similarity of a [R, K] matrix: [R, R]; a zero row gives NaN entries.
Tensor cosine_similarity(const Tensor& rows);

}  // namespace pathgrad::grokking
