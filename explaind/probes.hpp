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
  static OutputWeighting loss();         // the per-sample training loss at the label
  // "label", "class 3", "output 3" (one of all_outputs), "custom", "loss"
  std::string describe(int64_t slot = 0) const;
};

struct ProbeSet {
  std::string name;                          // "validation", "train", ...
  Tensor x;                                  // [M_in, ...] model inputs
  Tensor y;                                  // int64 [M_in] labels (for label and loss weightings)
  std::vector<int64_t> ids;                  // identifiers in exports (default 0..M_in-1)
  std::vector<OutputWeighting> weightings;   // default: {label()} when y is given
  bool sample_level = false;                 // include in the sample-wise (data) influence
};

// The M probe scalars of a list of probe sets, in order: set by set, input by input, slot by
// slot (a weighting is one slot, all_outputs is C slots).
class ProbeScalars {
 public:
  ProbeScalars() = default;
  // Validates every set (shapes, labels in range, weights' length) against `num_classes`.
  ProbeScalars(std::vector<ProbeSet> sets, int64_t num_classes, int64_t chunk_size = 512);

  int64_t size() const { return total_; }           // M
  int64_t sample_level_size() const;                // probe scalars of sample-level sets
  int64_t num_classes() const { return num_classes_; }
  const std::vector<ProbeSet>& sets() const { return sets_; }
  struct Label {
    std::string set;
    int64_t id;
    std::string weighting;
    bool sample_level;
  };
  const std::vector<Label>& labels() const { return labels_; }

  // F at the model's current parameters: float64 [M]. No graph is recorded.
  Tensor values(const ForwardFn& forward, const LossFn& loss) const;
  // F [M] and, for each parameter p, [M, K_p]: ∇F · d_{p,k} for its directions (per_sample_grad_dot).
  struct Dots {
    Tensor values;             // float64 [M]
    std::vector<Tensor> dots;  // per parameter: float64 [M, K_p]
  };
  Dots dots(const ForwardFn& forward, const LossFn& loss, const NamedTensors& params,
            const std::vector<std::vector<Tensor>>& directions) const;
  // ∇F of the sample-level probe scalars as float64 [M_s, P] (per_sample_grad).
  Tensor sample_level_gradients(const ForwardFn& forward, const LossFn& loss, const NamedTensors& params,
                                const ParamLayout& layout) const;

 private:
  struct Slot {
    const OutputWeighting* weighting;
    int64_t index;  // class for all_outputs
  };
  std::vector<Slot> slots(const ProbeSet& set) const;
  // For each chunk of each set: call f(set, first input, x chunk, y chunk, first scalar index).
  template <class F>
  void for_each_chunk(F f, bool sample_level_only) const;

  std::vector<ProbeSet> sets_;
  std::vector<Label> labels_;
  int64_t total_ = 0;
  int64_t num_classes_ = 0;
  int64_t chunk_ = 512;
};

}  // namespace pathgrad::explaind
