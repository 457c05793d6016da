// The path-kernel accounting of one training run (path-kernel.md §1–§5), independent of how the
// run is driven: fed one step at a time with θ_s, θ_{s+1}, the non-data part R_s and, for the
// sample level, the step's linear form and batch, it keeps the attribution tensor's sums:
//
//   replica      F(θ_0) + Σ_s φ_s·Δθ_s (per probe scalar) against the model's F(θ_S)
//   step-wise    φ_s·Δθ_s for every step (streamed to disk: memory does not grow with S)
//   parameter /  Σ_s φ_s ⊙ Δθ_s per parameter tensor, per component, per window of steps,
//   component    the data part (Δθ − R) and the weight-decay part (R) apart
//   sample-wise  Σ_s φ_s · (C_s ⊙ a_i ∇ℓ_i carried by the optimizer's buffers), per training
//                sample, in total, per window and (optionally) per component
//   residual     ρ_s = F(θ_{s+1}) − F(θ_s) − φ̂_s·Δθ_s, its own term, never hidden
//
// φ_s is integrated per probe input along its own pieces of the segment (path-kernel.md §4b):
// the ReLU units whose sign differs between θ_s and θ_{s+1} for that input crossed zero in
// between; each crossing is located by regula falsi on the unit's pre-activation (forward passes
// at per-row points, autograd/path_point.hpp), the segment is split there, and every piece is
// integrated with the quadrature rule — all inputs' pieces in one batch, each row at its own t —
// with the active fractions of the units and max-pool windows still switching inside a piece
// (autograd/active_fractions.hpp). A piece whose own residual F(b) − F(a) − φ̂·Δθ exceeds
// tolerance·(b − a) is halved, up to max_depth times; the others are final. Probe gradients are
// contracted with the update directions in the backward pass itself (per_sample_grad_dot), so the
// cheap level never forms [M, P]; only the sample level needs full probe gradients of its (small)
// probe subset.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "autograd/active_fractions.hpp"
#include "explaind/components.hpp"
#include "explaind/end_table.hpp"
#include "explaind/param_layout.hpp"
#include "explaind/probes.hpp"
#include "explaind/quadrature.hpp"
#include "explaind/row_stream.hpp"
#include "explaind/sample_shard.hpp"
#include "explaind/step_record.hpp"
#include "explaind/tracker_options.hpp"
#include "optim/communicator.hpp"

namespace pathgrad::explaind {

// The kernel's settings: the user's TrackerOptions as given (the only defaults there are), the
// training-set size and what follows from them.
struct PathKernelConfig {
  TrackerOptions options;
  int64_t num_samples = 0;  // N, the training-set size (sample level)
  int64_t max_kinks = 64;   // crossings located per input and step; beyond, uniform pieces
  // Continue from the state in options.resume_from(): keep the streams' .part files for load_state().
  bool resume() const { return !options.resume_from().empty(); }
  // Probe × parameter for the sample-level probes (any level): asked for, or part of combinations().
  bool parameter_wise() const { return options.parameter_wise() || options.combinations(); }
};

// This rank's SampleShard of the sample level configured in `config` (every block in one process):
// its blocks of config.num_samples samples, buffers of options.buffer_dtype(), per-sample gradients
// in chunks of options.chunk_size(), the components' products when options.combinations().
std::unique_ptr<SampleShard> make_sample_shard(const PathKernelConfig& config, const ForwardFn& forward,
                                               const LossFn& loss, const NamedTensors& eval_params,
                                               const std::vector<ResolvedComponent>& components);

class PathKernel {
 public:
  // A piece [a, b] of probe input `input`'s segment (t in [0, 1]).
  // weight: its share in the step's integral — 1, or a Richardson combination's coefficient
  // (−1/3 for a piece, 4/3 for each of its halves: path-kernel.md §4e).
  struct Piece {
    int64_t input;
    double a, b;
    double weight = 1;
  };
  // What a batch of probe rows takes from its pieces' ends: the probe values at each piece's ends
  // [pieces, K], and (with active fractions) the rows' fractions (autograd/active_fractions.hpp).
  struct Ends {
    Tensor fa, fb;
    PieceFractions fractions;
  };

  // `eval_params` are the parameters `forward` reads (float64 for exact probe arithmetic);
  // PathKernel writes θ_s + tΔθ into them while it integrates.
  PathKernel(ProbeScalars probes, ForwardFn forward, LossFn loss, NamedTensors eval_params,
             std::vector<Component> components, PathKernelConfig config);
  ~PathKernel();

  const ParamLayout& layout() const { return layout_; }
  const ProbeScalars& probes() const { return probes_; }
  const std::vector<ResolvedComponent>& components() const { return components_; }
  const PathKernelConfig& config() const { return config_; }

  // Accounts for one step. Steps must come in order without gaps.
  void step(const StepRecord& record);
  int64_t steps() const { return steps_; }

  // Checkpoints: everything accumulated so far goes to <dir>/tracker_state.safetensors (the
  // streamed arrays are flushed and their row counts recorded). load_state continues exactly
  // from such a file, dropping rows streamed after it; the configuration must be the same.
  // load_state checks every saved tensor's name, dtype and shape and every counter before it
  // changes anything, and throws std::runtime_error naming the file and the tensor or field.
  void save_state(const std::string& dir);
  void load_state(const std::string& dir);

  // Closes the open window and the streams; evaluates F(θ_S) at `theta_final` for the replica
  // comparison. After this, only the getters below are valid.
  void finish(const Tensor& theta_final);

  // ---- results (float64) ----
  Tensor initial_values() const { return f_initial_; }           // [M] F(θ_0)
  Tensor final_values() const { return f_final_; }               // [M] F(θ_S), evaluated by finish()
  Tensor replica() const;                                        // [M] F(θ_0) + Σ_s φ̂_s·Δθ_s
  Tensor data_total() const { return data_total_; }              // [M] Σ_s φ̂_s·(Δθ_s − R_s)
  Tensor decay_total() const { return decay_total_; }            // [M] Σ_s φ̂_s·R_s
  Tensor residual_sum() const { return residual_sum_; }          // [M] Σ_s ρ_s
  Tensor residual_abs_sum() const { return residual_abs_; }      // [M] Σ_s |ρ_s|
  Tensor residual_max() const { return residual_max_; }          // [M] max_s |ρ_s|
  Tensor component_data() const;                                 // [M, C]
  Tensor component_decay() const;                                // [M, C]
  Tensor sample_data() const { return sample_total_; }           // [M_s, N]
  Tensor sample_component_data() const { return sample_comp_; }  // [C, M_s, N]
  // [M_s, P]; with parameter windows the open window's part is added as it closes (finish()).
  Tensor parameter_data() const { return param_total_; }
  Tensor parameter_decay() const { return param_decay_total_; }  // [M_s, P]
  Tensor sample_level_decay() const;                             // [M_s] φ̂·R summed
  // Window boundaries [begin, end) of the windowed exports, in steps.
  const std::vector<std::pair<int64_t, int64_t>>& windows() const { return windows_; }
  // Probe-input gradient evaluations spent (rows of batched evaluations), forward evaluations
  // (rows of the crossing search and of piece ends not found in the end table: not the passes at
  // the steps' end points, rows_at) and the deepest refinement used.
  int64_t gradient_evaluations() const { return evaluations_; }
  int64_t forward_evaluations() const { return forward_evaluations_; }
  int deepest_refinement() const { return deepest_; }
  // Seconds this process spent in the sample level (per-sample gradients, buffers, kernel
  // products and their accounting), within the tracking time.
  double sample_level_seconds() const { return sample_seconds_; }
  // The largest gap, over steps and sample-level probe scalars, between the samples' shares and
  // the data part φ̂_s·(Δθ_s − R_s) of the step, relative to Σ_p |φ̂_s,p (Δθ_s − R_s)_p| +
  // Σ_i |share_i| (the scale at which rounding of the terms of either sum shows), for the summary.
  double worst_linear_form_mismatch() const { return worst_mismatch_; }

 private:
  struct StepDots;  // the contracted dots [M, U] (data, decay) and φ [M_s, P] of one step
  // rows_at(θ_t) and rows_at(θ_{t+1}) of one step: its pieces' first and last ends.
  struct StepEnds {
    std::vector<EndRows> start, end;
  };
  using Edges = std::vector<std::vector<double>>;  // per input of a set: 0 = e_0 < ... < e_n = 1
  // Breakpoints of every input of a set: the edges of `pieces` equal pieces and its located ReLU
  // crossings (max_kinks uniform pieces instead for an input with more than max_kinks crossings,
  // without active fractions).
  Edges kink_edges(size_t set, const std::vector<Tensor>& deltas);
  // Locates the ReLU crossings bracketed by consecutive edges of each item — probe input inputs[g]
  // with breakpoints edges[g] — and adds them to its edges (its first and last edge stay). Returns
  // the items with more than max_kinks bracketed crossings, left unchanged.
  std::vector<int64_t> add_kinks(size_t set, const std::vector<Tensor>& deltas, const std::vector<int64_t>& inputs,
                                 Edges& edges);
  // Forward passes of the set's inputs ids[r] at their own points t[r] of the path along `deltas`
  // (no gradients), under a KinkRecorder: the probe values [R, K] (float64) and what was recorded.
  // With no deltas, at the parameters as they are (t unused).
  EndRows passes_at(size_t set, const std::vector<Tensor>& deltas, const std::vector<int64_t>& ids,
                    const std::vector<double>& t);
  // The probe values at the pieces' ends, [pieces, K] each — from end_table_, the ends not in it
  // evaluated in one forward pass; with active fractions also the fractions
  // (autograd/active_fractions.hpp) of rows that belong to pieces row_piece[r].
  Ends ends_of(size_t set, const std::vector<Tensor>& deltas, const std::vector<Piece>& pieces,
               const std::vector<int64_t>& row_piece);
  // Each piece's contracted dots, data and decay [pieces, K, U], and its own residual
  // F(b) − F(a) − φ̂·Δθ [pieces, K] (zero without adaptive refinement and active fractions).
  struct PieceDots {
    Tensor data, decay, local;
  };
  // Pieces and their dots, row p of dots belonging to pieces[p].
  struct Pieces {
    std::vector<Piece> pieces;
    PieceDots dots;
  };
  // Which pieces of `active` to halve: those whose own residual exceeds tolerance·(b − a), of
  // inputs whose residual over all their pieces (`active` and `done`) exceeds the tolerance.
  std::vector<bool> to_refine(size_t set, const Tensor& f_change, const Pieces& active, const Pieces& done) const;
  // The next active pieces: those not refined, and the halves of the refined ones — except that,
  // with extrapolate, a piece whose Richardson combination with its two halves has its own
  // residual within tolerance·(b − a) goes to `done` as that combination (three weighted pieces).
  Pieces refined(size_t set, const std::vector<Tensor>& deltas, const std::vector<std::vector<Tensor>>& directions,
                 const Pieces& active, const std::vector<bool>& refine, Pieces& done);
  PieceDots evaluate_pieces(size_t set, const std::vector<Piece>& pieces, const std::vector<Tensor>& deltas,
                            const std::vector<std::vector<Tensor>>& directions);
  // The sample-level probes' integrated full gradients over `pieces`, each input's given to
  // take_gradients.
  void add_full_gradients(size_t set, const std::vector<Piece>& pieces, const std::vector<Tensor>& deltas,
                          const StepDots& out);
  // One input's integrated gradients g [K, P], rows `row` .. row + K − 1 of the sample level: added
  // to φ̂ when it is kept; g ⊙ (Δθ − R) added to the open parameter window (to the total when there
  // are no windows) and g ⊙ R to the decay total.
  void take_gradients(int64_t row, const Tensor& g, const StepDots& out) const;
  // The contracted dots of a sample-level set's rows from its integrated full gradients in phi
  // (instead of a second pass over the same nodes, when no refinement needs per-piece dots).
  void add_dots_from_gradients(size_t set, const Tensor& phi, const std::vector<std::vector<Tensor>>& directions,
                               StepDots& out) const;
  // Pieces per batched evaluation of contracted dots, for `pieces` pieces: at most
  // probe_chunk_size rows, in chunks of equal size whose number is a multiple of the threads.
  int64_t pieces_per_chunk(int64_t pieces) const;
  // φ̂_s of every probe scalar of a set into `out`: each input on its own pieces (kink_edges),
  // refined while its residual exceeds the tolerance — only the pieces whose own residual exceeds
  // tolerance·(b − a) are halved, the others are kept as they are — then the full gradients of
  // the sample-level probes on the final pieces. Without refinement, a sample-level set is
  // evaluated once, for its full gradients, and its dots are taken from them. `ends`, when given,
  // puts every input's pieces' first and last ends in the end table before anything is evaluated.
  void integrate_set(size_t set, const Tensor& f_change, const std::vector<Tensor>& deltas,
                     const std::vector<std::vector<Tensor>>& directions, const StepEnds* ends, StepDots& out);
  // The halves of pieces, split also at the crossings their midpoints reveal; parent_of[h] is the
  // index in `rejected` of piece h's parent.
  std::vector<Piece> halve(size_t set, const std::vector<Tensor>& deltas, const std::vector<Piece>& rejected,
                           std::vector<int64_t>& parent_of);
  // The forward passes (passes_at) of every input of every set at θ itself, one EndRows per set.
  std::vector<EndRows> rows_at(const Tensor& theta);
  // Their probe values [M], in the order of the probe scalars.
  Tensor values_of(const std::vector<EndRows>& rows) const;
  // Whether the rows of a step's two ends fit in half of the end table (they are put there).
  bool fits_end_table(const std::vector<EndRows>& rows) const;
  // step(), integrate: φ̂_s contracted with the step's directions (data Δθ − R and decay R, per
  // tensor and slice part) for every probe scalar, and φ̂_s itself for the sample-level probes.
  StepDots integrate(const Tensor& theta0, const Tensor& delta, const Tensor& data_delta, const Tensor& non_data,
                     const Tensor& f_change, const StepEnds* ends);
  // step(), accumulate: the totals, residuals, unit and window sums and streams of one step's dots
  // (the parameter-wise sums were taken by take_gradients); returns its data part per probe scalar [M].
  Tensor accumulate(const StepDots& dots, const Tensor& f_change);
  // step(), sample level: the samples' shares (sample_step) and their check against `data`, the
  // data part of the step, into worst_mismatch_.
  void account_samples(const StepRecord& r, const Tensor& phi, const Tensor& data, const Tensor& data_delta);
  // Sample level of one step — this rank's shard, and with a communicator every rank's shares
  // gathered (sharded_sample_step); returns each training sample's share in it [M_s, N].
  Tensor sample_step(const StepRecord& r, const Tensor& phi);
  void close_window();
  std::vector<std::pair<std::string, Tensor*>> state_tensors();  // named accumulators
  std::vector<std::pair<std::string, RowStream*>> streams();
  // load_state's checks, which change nothing: the saved tensors by name, each with the dtype and
  // shape this configuration keeps and no others; and the counters of the metadata, each an
  // integer in its range. Both throw std::runtime_error naming `path` and what differs.
  struct SavedCounters {
    int64_t steps = 0, evaluations = 0, forward_evaluations = 0, window_begin = 0;
    int deepest = 0;
    double worst_mismatch = 0;
    std::vector<std::pair<int64_t, int64_t>> windows;
    std::map<std::string, int64_t> stream_rows;
  };
  std::map<std::string, Tensor> expect_state_tensors(const NamedTensors& tensors, const std::string& path);
  SavedCounters read_counters(const nlohmann::json& meta, const std::string& path);
  bool window_ends_after(int64_t steps) const;  // does a window close once `steps` steps are done?

  ProbeScalars probes_;
  ForwardFn forward_;
  LossFn loss_;
  NamedTensors eval_params_;
  ParamLayout layout_;
  std::vector<ResolvedComponent> components_;
  PathKernelConfig config_;
  std::vector<std::pair<int64_t, int64_t>> slices_;  // (parameter, component) of every slice part

  std::vector<int64_t> unit_param_, unit_direction_;  // unit -> (parameter, index of its data direction)
  EndTable end_table_;                                // the ends of the set being integrated, each evaluated once
  // rows_at(θ_{t+1}) of the last step, kept as the next step's start (empty when they do not fit).
  std::vector<EndRows> next_start_;
  int64_t steps_ = 0;
  int64_t evaluations_ = 0, forward_evaluations_ = 0;
  int deepest_ = 0;
  double worst_mismatch_ = 0;
  double sample_seconds_ = 0;
  Tensor f_initial_, f_current_, f_final_;
  Tensor data_total_, decay_total_, residual_sum_, residual_abs_, residual_max_;
  Tensor unit_data_, unit_decay_;      // [M, U]: U = parameter tensors + slice parts
  Tensor window_data_, window_decay_;  // [M, U] of the open window
  std::vector<std::pair<int64_t, int64_t>> windows_;
  int64_t window_begin_ = 0;

  std::unique_ptr<SampleShard> shard_;  // this rank's samples' buffers
  Tensor sample_total_, sample_window_, sample_comp_, param_total_, param_decay_total_, param_window_, sample_decay_;
  std::vector<int64_t> sample_rows_;  // probe-scalar index of each sample-level row

  RowStream step_stream_, residual_stream_, comp_window_data_stream_, comp_window_decay_stream_, sample_window_stream_,
      param_window_stream_;
};

}  // namespace pathgrad::explaind
