// Probes: the inputs to explain and the output weightings that turn the model's output vector into
// the scalars F(θ) = Σ_c w_c f_c(x; θ) whose change over training is decomposed
// (path-kernel.md §1). One input with several weightings gives several probe scalars.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "explaind/param_layout.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::explaind {

// The model's forward pass: inputs [M, ...] -> outputs [M, C] (log-probabilities for classifiers).
using ForwardFn = std::function<Tensor(const Tensor& x)>;
// Per-sample loss: (outputs [B, C], targets [B]) -> [B], unreduced.
using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;

struct OutputWeighting {
  enum class Kind { Label, AllOutputs, Class, Custom, Loss };
  Kind kind = Kind::Label;
  int64_t cls = -1;             // Class
  std::vector<double> weights;  // Custom: one weight per output

  static OutputWeighting label();        // the label's output (needs labels)
  static OutputWeighting all_outputs();  // every output: C scalars per input
  static OutputWeighting of_class(int64_t c);
  static OutputWeighting custom(std::vector<double> w);
  static OutputWeighting loss();  // the per-sample training loss at the label
  // "label", "class 3", "output 3" (one of all_outputs), "custom", "loss"
  std::string describe(int64_t slot = 0) const;
};

struct ProbeSet {
  std::string name;                         // "validation", "train", ...
  Tensor x;                                 // [M_in, ...] model inputs
  Tensor y;                                 // int64 [M_in] labels (for label and loss weightings)
  std::vector<int64_t> ids;                 // identifiers in exports (default 0..M_in-1)
  std::vector<OutputWeighting> weightings;  // default: {label()} when y is given
  bool sample_level = false;                // include in the sample-wise (data) influence
};

// The M probe scalars of a list of probe sets, in order: set by set, input by input, slot by
// slot (a weighting is one slot, all_outputs is C slots).
class ProbeScalars {
 public:
  ProbeScalars() = default;
  // Validates every set (shapes, labels in range, weights' length) against `num_classes`.
  ProbeScalars(std::vector<ProbeSet> sets, int64_t num_classes);

  int64_t size() const { return total_; }  // M
  int64_t sample_level_size() const;       // probe scalars of sample-level sets
  int64_t num_classes() const { return num_classes_; }
  const std::vector<ProbeSet>& sets() const { return sets_; }
  struct Label {
    std::string set;
    int64_t id;
    std::string weighting;
    bool sample_level;
  };
  const std::vector<Label>& labels() const { return labels_; }

  // ---- evaluation of chosen inputs of one probe set ("rows"); the caller may evaluate the rows
  // at their own path points by holding a PathPointGuard (autograd/path_point.hpp) ----
  int64_t num_inputs(size_t set) const { return sets_[set].x.size(0); }
  int64_t num_slots(size_t set) const { return static_cast<int64_t>(slots(sets_[set]).size()); }
  int64_t first_scalar(size_t set) const { return first_scalar_[set]; }          // row of input 0, slot 0 in [M]
  int64_t first_sample_row(size_t set) const { return first_sample_row_[set]; }  // in [M_s], or -1
  // The model's outputs for inputs `ids` (int64 [R]) of a set: [R, C] (graph recorded).
  Tensor row_outputs(size_t set, const ForwardFn& forward, const Tensor& ids) const;
  // F of every slot: float64 [R, K]. No graph is recorded.
  Tensor row_values(size_t set, const ForwardFn& forward, const LossFn& loss, const Tensor& ids) const;
  // ∇F · d_{p,k} for every slot and every direction of every parameter: per parameter float64
  // [R, K, K_p] (per_sample_grad_dot).
  std::vector<Tensor> row_dots(size_t set, const ForwardFn& forward, const LossFn& loss, const NamedTensors& params,
                               const std::vector<std::vector<Tensor>>& directions, const Tensor& ids) const;
  // Σ_r seeds[r]·∇F_r of every slot over each group of n = rows_per_sample consecutive rows, as
  // float64 [R / n, K, P] in `layout` (per_sample_grad, which sums a group's rows in its per-sample
  // rules: [R, K, P] is never formed). seeds: [R] in the parameters' dtype.
  Tensor row_gradients(size_t set, const ForwardFn& forward, const LossFn& loss, const NamedTensors& params,
                       const ParamLayout& layout, const Tensor& ids, const Tensor& seeds,
                       int64_t rows_per_sample) const;

 private:
  struct Slot {
    const OutputWeighting* weighting;
    int64_t index;  // class for all_outputs
  };
  std::vector<Slot> slots(const ProbeSet& set) const;
  // F of every slot from outputs [R, C]: K tensors [R].
  std::vector<Tensor> slot_values(const ProbeSet& set, const Tensor& out, const Tensor& y, const LossFn& loss) const;
  // F of every slot for inputs `ids` of a set, with the graph recorded: K tensors [R].
  std::vector<Tensor> row_scalars(size_t set, const ForwardFn& forward, const LossFn& loss, const Tensor& ids) const;

  std::vector<ProbeSet> sets_;
  std::vector<Label> labels_;
  std::vector<int64_t> first_scalar_, first_sample_row_;
  int64_t total_ = 0;
  int64_t num_classes_ = 0;
};

}  // namespace pathgrad::explaind
