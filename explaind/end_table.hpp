// The forward passes at the ends (input, t) of one probe set's pieces within one step: the probe
// values there and what a KinkRecorder saw (ReLU pre-activations, max-pool inputs and choices).
// Refinement's halves share their parent's ends and the sample level's full gradients run on
// pieces already evaluated, so an EndTable keeps what was evaluated and each end is evaluated once
// (path-kernel.md §4d uses them: piece residuals and active fractions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "autograd/path_point.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::explaind {

// Forward passes at E ends: one row per end in every tensor.
struct EndRows {
  Tensor values;                          // [E, K] float64: the probe values
  std::vector<Tensor> relu;               // per relu call, its pre-activation [E, ...]
  std::vector<KinkRecorder::Pool> pools;  // per max-pool call, its input and choices [E, ...]
};

// The rows of every part, one part after the other (parts of the same passes: the same relu and
// max-pool calls).
EndRows concat_rows(const std::vector<EndRows>& parts);
// The bytes the rows' tensors hold.
size_t bytes_of(const EndRows& rows);

class EndTable {
 public:
  // One forward pass at the ends (inputs[e], t[e]).
  using Evaluate = std::function<EndRows(const std::vector<int64_t>& inputs, const std::vector<double>& t)>;

  // keep_units: keep the pre-activations and pools (for active fractions and the crossing scan,
  // which reads its edges' pre-activations from the table), else only the values.
  // The table stops growing at about max_bytes; ends beyond it are evaluated each time asked for.
  EndTable(bool keep_units, size_t max_bytes) : keep_units_(keep_units), max_bytes_(max_bytes) {}

  // The distinct ends (inputs[e], t[e]): those in the table copied, the others evaluated in one
  // call of `evaluate` and kept. End e is row row_of[e] of the result.
  EndRows rows(const std::vector<int64_t>& inputs, const std::vector<double>& t, const Evaluate& evaluate,
               std::vector<int64_t>& row_of);
  // Keeps the rows of passes made elsewhere (the crossing search's) at points that become piece
  // ends: every row r as the end (inputs[r], t[r]), or only rows `which` (none when it is empty).
  void add(const std::vector<int64_t>& inputs, const std::vector<double>& t, EndRows rows);
  void add(const std::vector<int64_t>& inputs, const std::vector<double>& t, const EndRows& rows,
           const std::vector<int64_t>& which);
  // Forgets every end (a new set or step).
  void clear();

 private:
  void keep(const std::vector<std::pair<int64_t, double>>& ends, EndRows rows);

  bool keep_units_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::vector<EndRows> blocks_;  // one per evaluation, never copied as a whole
  std::map<std::pair<int64_t, double>, std::pair<size_t, int64_t>> index_;  // (input, t) -> (block, row)
};

}  // namespace pathgrad::explaind
