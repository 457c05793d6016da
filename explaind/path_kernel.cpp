// The path-kernel accounting: quadrature with adaptive refinement, contraction of probe gradients
// with the update's data and weight-decay parts, per-sample buffers, windows and streams.
#include "explaind/path_kernel.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "autograd/ops.hpp"
#include "autograd/path_point.hpp"
#include "explaind/end_table.hpp"
#include "explaind/sample_exchange.hpp"
#include "tensor/json_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"
#include "tensor/safetensors.hpp"

namespace pathgrad::explaind {
namespace K = kernel;

namespace {
// [M, U] unit values -> [M, C] component values (a component sums its whole tensors and slices).
Tensor units_to_components(const Tensor& units, const std::vector<ResolvedComponent>& comps,
                           const std::vector<std::pair<int64_t, int64_t>>& slices, int64_t n) {
  const int64_t C = static_cast<int64_t>(comps.size());
  Tensor map = Tensor::zeros({units.size(1), C}, DType::Float64);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t p : comps[c].whole_params) map.set({p, c}, 1.0);
  for (size_t j = 0; j < slices.size(); ++j) map.set({n + static_cast<int64_t>(j), slices[j].second}, 1.0);
  return K::matmul(units, map);
}

// The forward passes kept at the ends of a set's pieces within a step grow to at most this size
// (the grokking example's: about 5 kB per end, a few thousand ends).
constexpr size_t kEndTableBytes = size_t{256} << 20;
}  // namespace

// The contracted dots of one step: for every unit (a whole parameter tensor or a slice part of a
// component) the data and weight-decay products [M, U], and for the sample level the integrated
// gradients themselves [M_s, P] (kept only where the sample level or the dots need them), and the
// update's data part Δθ − R and decay part R [P], for the per-parameter totals.
struct PathKernel::StepDots {
  Tensor data, decay, phi, data_delta, non_data;
};

std::unique_ptr<SampleShard> make_sample_shard(const PathKernelConfig& config, const ForwardFn& forward,
                                               const LossFn& loss, const NamedTensors& eval_params,
                                               const std::vector<ResolvedComponent>& components) {
  const optim::Communicator* comm = config.options.communicator();
  const optim::ShardPlan blocks(config.num_samples, config.options.sample_shards(), comm ? comm->rank() : 0,
                                comm ? comm->size() : 1, "sample_shards");
  return std::make_unique<SampleShard>(blocks, forward, loss, eval_params,
                                       config.options.combinations() ? components : std::vector<ResolvedComponent>{},
                                       config.options.buffer_dtype(), config.options.chunk_size());
}

PathKernel::PathKernel(ProbeScalars probes, ForwardFn forward, LossFn loss, NamedTensors eval_params,
                       std::vector<Component> components, PathKernelConfig config)
    : probes_(std::move(probes)),
      forward_(std::move(forward)),
      loss_(std::move(loss)),
      eval_params_(std::move(eval_params)),
      layout_(eval_params_),
      config_(std::move(config)),
      end_table_(config_.options.active_fractions() || config_.options.kink_aware(), kEndTableBytes) {
  if (config_.options.output_dir().empty()) throw std::invalid_argument("PathKernel: an output directory is required");
  if (config_.options.window() < 1)
    throw std::invalid_argument(fmt::format("PathKernel: window of {} steps", config_.options.window()));
  for (size_t i = 0; i < config_.options.window_edges().size(); ++i)
    if (config_.options.window_edges()[i] <= (i ? config_.options.window_edges()[i - 1] : 0))
      throw std::invalid_argument("PathKernel: window edges must be positive and increasing");
  if (!(config_.options.tolerance() > 0)) throw std::invalid_argument("PathKernel: the tolerance must be positive");
  if (config_.options.probe_chunk_size() < 1)
    throw std::invalid_argument(
        fmt::format("PathKernel: probe_chunk_size() must be positive, not {}", config_.options.probe_chunk_size()));
  if (config_.options.pieces() < 1 || config_.options.pieces() > 4096)
    throw std::invalid_argument(
        fmt::format("PathKernel: {} initial pieces per step, outside [1, 4096]", config_.options.pieces()));
  if (config_.options.max_depth() < 0 || config_.options.max_depth() > 30)
    throw std::invalid_argument(
        fmt::format("PathKernel: refinement depth {} outside [0, 30]", config_.options.max_depth()));
  for (const Component& c : components) components_.push_back(resolve(c, layout_));
  for (size_t c = 0; c < components_.size(); ++c)
    for (size_t j = 0; j < components_[c].slices.size(); ++j)
      slices_.emplace_back(components_[c].slices[j].first, static_cast<int64_t>(c));
  // Units: every tensor (its directions 0, 1), then every slice part (the next pair of directions
  // of its tensor, in the order of slices_).
  std::vector<int64_t> next_direction(static_cast<size_t>(layout_.count()), 2);
  for (int64_t p = 0; p < layout_.count(); ++p) {
    unit_param_.push_back(p);
    unit_direction_.push_back(0);
  }
  for (const auto& [p, c] : slices_) {
    unit_param_.push_back(p);
    unit_direction_.push_back(next_direction[p]);
    next_direction[p] += 2;
  }
  const int64_t M = probes_.size(), U = layout_.count() + static_cast<int64_t>(slices_.size());
  const int64_t C = static_cast<int64_t>(components_.size());
  for (Tensor* t : {&data_total_, &decay_total_, &residual_sum_, &residual_abs_, &residual_max_})
    *t = Tensor::zeros({M}, DType::Float64);
  for (Tensor* t : {&unit_data_, &unit_decay_, &window_data_, &window_decay_})
    *t = Tensor::zeros({M, U}, DType::Float64);
  const std::string dir = config_.options.output_dir() + "/";
  step_stream_ = RowStream(dir + "step_influence.npy", {M}, config_.resume());
  residual_stream_ = RowStream(dir + "residuals.npy", {M}, config_.resume());
  comp_window_data_stream_ = RowStream(dir + "component_window_data.npy", {M, C}, config_.resume());
  comp_window_decay_stream_ = RowStream(dir + "component_window_decay.npy", {M, C}, config_.resume());

  const bool detailed = config_.options.per_sample() || config_.parameter_wise();
  const int64_t Ms = probes_.sample_level_size();
  if (detailed && Ms == 0)
    throw std::invalid_argument(
        "PathKernel: the sample level and the parameter-wise influence need a probe set marked sample_level");
  if (detailed)
    for (int64_t m = 0; m < M; ++m)
      if (probes_.labels()[m].sample_level) sample_rows_.push_back(m);
  if (config_.options.per_sample()) {
    const int64_t N = config_.num_samples;
    if (N < 1) throw std::invalid_argument("PathKernel: the sample level needs the training-set size");
    shard_ = make_sample_shard(config_, forward_, loss_, eval_params_, components_);
    sample_total_ = Tensor::zeros({Ms, N}, DType::Float64);
    sample_window_ = Tensor::zeros({Ms, N}, DType::Float64);
    sample_decay_ = Tensor::zeros({Ms}, DType::Float64);
    if (config_.options.combinations()) sample_comp_ = Tensor::zeros({C, Ms, N}, DType::Float64);
    sample_window_stream_ = RowStream(dir + "sample_window_data.npy", {Ms, N}, config_.resume());
  }
  if (config_.parameter_wise()) {
    param_total_ = Tensor::zeros({Ms, layout_.size()}, DType::Float64);
    param_decay_total_ = Tensor::zeros({Ms, layout_.size()}, DType::Float64);
  }
  if (config_.parameter_wise() && config_.options.parameter_windows()) {
    param_window_ = Tensor::zeros({Ms, layout_.size()}, DType::Float64);
    param_window_stream_ = RowStream(dir + "parameter_window_data.npy", {Ms, layout_.size()}, config_.resume());
  }
}

PathKernel::~PathKernel() = default;

std::vector<EndRows> PathKernel::rows_at(const Tensor& theta) {
  layout_.assign(theta, eval_params_);
  const int64_t chunk = config_.options.probe_chunk_size();
  std::vector<EndRows> sets;
  for (size_t set = 0; set < probes_.sets().size(); ++set) {
    std::vector<EndRows> parts;
    for (int64_t j0 = 0, m = probes_.num_inputs(set); j0 < m; j0 += chunk) {
      std::vector<int64_t> ids;
      for (int64_t j = j0; j < std::min(m, j0 + chunk); ++j) ids.push_back(j);
      parts.push_back(passes_at(set, {}, ids, std::vector<double>(ids.size(), 0.0)));
    }
    sets.push_back(concat_rows(parts));
  }
  return sets;
}

bool PathKernel::fits_end_table(const std::vector<EndRows>& rows) const {
  size_t bytes = 0;
  for (const EndRows& r : rows) bytes += bytes_of(r);
  return 2 * bytes <= kEndTableBytes / 2;  // both ends, in at most half of the table
}

Tensor PathKernel::values_of(const std::vector<EndRows>& rows) const {
  Tensor f = Tensor::empty({probes_.size()}, DType::Float64);
  for (size_t set = 0; set < rows.size(); ++set)
    K::narrow(f, 0, probes_.first_scalar(set), rows[set].values.numel()).copy_(K::reshape(rows[set].values, {-1}));
  return f;
}

namespace {
// 0, 1/n, ..., 1.
std::vector<double> uniform_edges(int64_t n) {
  std::vector<double> e;
  for (int64_t k = 0; k <= n; ++k) e.push_back(static_cast<double>(k) / static_cast<double>(n));
  return e;
}
}  // namespace

PathKernel::Edges PathKernel::kink_edges(size_t set, const std::vector<Tensor>& deltas) {
  const int64_t n_in = probes_.num_inputs(set);
  Edges edges(static_cast<size_t>(n_in), uniform_edges(config_.options.pieces()));
  if (!config_.options.kink_aware()) return edges;
  std::vector<int64_t> all(static_cast<size_t>(n_in));
  for (int64_t j = 0; j < n_in; ++j) all[static_cast<size_t>(j)] = j;
  const std::vector<int64_t> too_many = add_kinks(set, deltas, all, edges);
  // Inputs with too many crossings keep their uniform pieces when active fractions handle the
  // switches inside them; without, they are split into max_kinks uniform pieces.
  if (!config_.options.active_fractions())
    for (int64_t j : too_many) edges[static_cast<size_t>(j)] = uniform_edges(config_.max_kinks);
  return edges;
}

namespace {
// Regula falsi iterations at most per crossing.
constexpr int kMaxRootIterations = 60;
// A crossing is located once its bracket is at most this wide (in t), or once the secant through
// its last two points puts the kink within half of this from the last one: the piece edge, the
// point evaluated last, is then within this of the kink.
constexpr double kBracketWidth = 1e-13;
// The width when active fractions are on. A kink missed by ε ≤ 1e-9 then lies inside a piece
// next to its end, where the unit's active fraction, from its pre-activations at the piece's ends,
// takes the jump's share (about jump · ε) to first order; what is left is that share times the
// fraction's own relative error, far below any tolerance the refinement is asked for, and a piece
// where it is not is still caught by the piece's exact residual and halved. Measured on the first
// 40 grokking steps (edges then at the brackets' middles): 6.27 → 5.30 forward rows per crossing,
// the replica error unchanged (1.13e-8).
constexpr double kBracketWidthWithFractions = 1e-9;
// Edges closer than this are one edge, and a crossing this close to an item's first or last edge
// adds none.
constexpr double kEdgeGap = 1e-12;

// A unit whose pre-activation changes sign inside a piece of item `item`: its bracket [a, b]
// with values fa, fb (fa * fb < 0), and the end of it evaluated last (the piece edge it becomes).
struct Crossing {
  size_t item;
  int64_t unit;
  double a, b, fa, fb;
  int side = 0;  // which end moved last time (-1: a, 1: b)
  double edge = 0.5 * (a + b);
  double f_edge = std::numeric_limits<double>::quiet_NaN();  // the pre-activation at edge, once evaluated
};

// Forward passes of probe inputs `ids` at points `t`: the pre-activations [rows, units]
// (undefined when the model has no ReLU), and the same rows as piece ends for the EndTable.
struct PointRows {
  Tensor units;
  EndRows ends;
};

// Every ReLU pre-activation of the rows flattened per row and concatenated, [rows, units] float64
// (undefined when nothing was recorded: the model has no ReLU).
Tensor units_of(const EndRows& rows) {
  if (rows.relu.empty()) return Tensor();
  std::vector<Tensor> parts;
  for (const Tensor& z : rows.relu) parts.push_back(K::reshape(z.contiguous(), {z.size(0), -1}));
  return K::cat(parts, 1).to(DType::Float64);
}
using UnitsAt = std::function<PointRows(const std::vector<int64_t>& ids, const std::vector<double>& t)>;

// The result of the sign scan: the bracketed crossings, and the items with more than max_kinks
// of them (whose crossings are dropped).
struct SignScan {
  std::vector<Crossing> crossings;
  std::vector<int64_t> too_many;
  bool has_units = true;  // false: the model has no ReLU
};

// Step 1: the pre-activations at every edge of every item (items in groups of about `chunk` rows;
// `ends_at` keeps them, edges being piece ends), and the brackets of the units whose sign differs
// at the two ends of a piece.
SignScan scan_signs(const UnitsAt& ends_at, const std::vector<int64_t>& inputs,
                    const std::vector<std::vector<double>>& edges, size_t chunk, int64_t max_kinks) {
  SignScan scan;
  for (size_t g0 = 0; g0 < inputs.size();) {
    size_t g1 = g0;
    std::vector<int64_t> ids;
    std::vector<double> ts;
    while (g1 < inputs.size() && (ids.empty() || ids.size() + edges[g1].size() <= chunk)) {
      for (double t : edges[g1]) {
        ids.push_back(inputs[g1]);
        ts.push_back(t);
      }
      ++g1;
    }
    const Tensor z = ends_at(ids, ts).units;  // [rows, units]
    if (!z.defined()) {
      scan.has_units = false;
      return scan;
    }
    const int64_t U = z.size(1);
    const double* zp = z.data<double>();
    int64_t row = 0;
    for (size_t g = g0; g < g1; ++g) {
      const std::vector<double>& e = edges[g];
      const size_t first_crossing = scan.crossings.size();
      int64_t found = 0;
      for (size_t i = 0; i + 1 < e.size() && found <= max_kinks; ++i) {
        const double* z0 = zp + (row + static_cast<int64_t>(i)) * U;
        const double* z1 = z0 + U;
        for (int64_t u = 0; u < U; ++u) {
          if ((z0[u] > 0) == (z1[u] > 0) || z0[u] == 0 || z1[u] == 0) continue;
          if (++found > max_kinks) break;
          scan.crossings.push_back({g, u, e[i], e[i + 1], z0[u], z1[u]});
        }
      }
      if (found > max_kinks) {  // the caller decides: uniform pieces or halving
        scan.crossings.resize(first_crossing);
        scan.too_many.push_back(static_cast<int64_t>(g));
      }
      row += static_cast<int64_t>(e.size());
    }
    g0 = g1;
  }
  return scan;
}

// Anderson–Björck: when the same end of a bracket moved twice in a row (its value f_before → f),
// the value kept at the other end is scaled by 1 − f / f_before (by 1/2, Illinois, when that is
// not positive), so that the next secant point lands nearer the root's other side: 4.30 instead of
// Illinois' 5.30 forward rows per crossing over the first 40 grokking steps.
double kept_end_scale(double f, double f_before) {
  const double m = 1 - f / f_before;
  return m > 0 ? m : 0.5;
}

// Step 2: regula falsi (Anderson–Björck) on every crossing's pre-activation, all crossings in batches of
// `chunk` rows, until each bracket is `width` narrow (or kMaxRootIterations passed). The point a
// bracket closes at becomes the crossing's edge and is kept in `ends`.
void find_roots(const UnitsAt& units_at, const std::vector<int64_t>& inputs, size_t chunk, double width,
                std::vector<Crossing>& crossings, EndTable& ends) {
  // Each evaluation point is at least this far inside its bracket (Brent's minimal step): once the
  // secant has converged next to one end, the next point falls on the root's other side, and the
  // bracket closes to under `width`, instead of creeping at the secant's rate.
  const double min_step = 0.4 * width;  // < width / 2: every open bracket holds such a point
  std::vector<size_t> active(crossings.size());
  for (size_t i = 0; i < active.size(); ++i) active[i] = i;
  for (int it = 0; it < kMaxRootIterations && !active.empty(); ++it) {
    std::vector<size_t> next;
    for (size_t a0 = 0; a0 < active.size(); a0 += chunk) {
      const size_t c = std::min(active.size() - a0, chunk);
      std::vector<int64_t> ids(c);
      std::vector<double> t(c);
      for (size_t i = 0; i < c; ++i) {
        Crossing& x = crossings[active[a0 + i]];
        ids[i] = inputs[x.item];
        t[i] = std::clamp((x.a * x.fb - x.b * x.fa) / (x.fb - x.fa), x.a + min_step, x.b - min_step);
      }
      PointRows rows = units_at(ids, t);
      std::vector<int64_t> closed;  // rows at which a bracket closed
      for (size_t i = 0; i < c; ++i) {
        Crossing& x = crossings[active[a0 + i]];
        const double f = rows.units.at({static_cast<int64_t>(i), x.unit});
        // The root's distance from t[i] to first order, from the secant through this crossing's
        // previous point: once it is under half the width, t[i] is the edge without a point on
        // the root's other side (the closing point Brent's minimal step would cost).
        const double near = std::isnan(x.f_edge) ? std::numeric_limits<double>::infinity()
                                                 : std::abs(f * (t[i] - x.edge) / (f - x.f_edge));
        x.edge = t[i];
        x.f_edge = f;
        if (f == 0) {
          x.a = x.b = t[i];
        } else if ((f > 0) == (x.fa > 0)) {
          if (x.side == -1) x.fb *= kept_end_scale(f, x.fa);
          x.a = t[i];
          x.fa = f;
          x.side = -1;
        } else {
          if (x.side == 1) x.fa *= kept_end_scale(f, x.fb);
          x.b = t[i];
          x.fb = f;
          x.side = 1;
        }
        if (x.b - x.a > width && !(near <= 0.5 * width))
          next.push_back(active[a0 + i]);
        else
          closed.push_back(static_cast<int64_t>(i));
      }
      ends.add(ids, t, rows.ends, closed);
    }
    active = std::move(next);
  }
}

// Step 3: adds each crossing's edge to its item's edges, sorted, edges within kEdgeGap merged;
// each item's first and last edge stay exactly as they were.
void merge_crossings(const std::vector<Crossing>& crossings, std::vector<std::vector<double>>& edges) {
  std::vector<std::pair<double, double>> span;  // each item's first and last edge
  for (const std::vector<double>& e : edges) span.emplace_back(e.front(), e.back());
  for (const Crossing& x : crossings) {
    const double t = x.edge;
    if (t > span[x.item].first + kEdgeGap && t < span[x.item].second - kEdgeGap) edges[x.item].push_back(t);
  }
  for (size_t g = 0; g < edges.size(); ++g) {
    std::vector<double>& e = edges[g];
    std::sort(e.begin(), e.end());
    e.erase(std::unique(e.begin(), e.end(), [](double a, double b) { return b - a < kEdgeGap; }), e.end());
    e.front() = span[g].first;
    e.back() = span[g].second;
  }
}
}  // namespace

std::vector<int64_t> PathKernel::add_kinks(size_t set, const std::vector<Tensor>& deltas,
                                           const std::vector<int64_t>& inputs, Edges& edges) {
  const EndTable::Evaluate evaluate = [&](const std::vector<int64_t>& ids, const std::vector<double>& t) {
    return passes_at(set, deltas, ids, t);
  };
  const UnitsAt units_at = [&](const std::vector<int64_t>& ids, const std::vector<double>& t) {
    PointRows rows{Tensor(), evaluate(ids, t)};
    rows.units = units_of(rows.ends);
    return rows;
  };
  // The edges are piece ends: those already in the table (the step's ends, a refined piece's)
  // are not evaluated again, the others are kept there.
  const UnitsAt ends_at = [&](const std::vector<int64_t>& ids, const std::vector<double>& t) {
    std::vector<int64_t> row_of;
    const Tensor units = units_of(end_table_.rows(ids, t, evaluate, row_of));
    const Tensor rows = Tensor::from_vector(row_of, {static_cast<int64_t>(row_of.size())});
    return PointRows{units.defined() ? K::index_select(units, 0, rows) : Tensor(), {}};
  };
  const size_t chunk = static_cast<size_t>(config_.options.probe_chunk_size());
  SignScan scan = scan_signs(ends_at, inputs, edges, chunk, config_.max_kinks);
  if (!scan.has_units) return scan.too_many;
  find_roots(units_at, inputs, chunk, config_.options.active_fractions() ? kBracketWidthWithFractions : kBracketWidth,
             scan.crossings, end_table_);
  merge_crossings(scan.crossings, edges);
  return scan.too_many;
}

namespace {
// Probe rows worth a thread of their own: a forward or backward pass over fewer rows is mostly
// per-operation overhead.
constexpr int64_t kRowsPerTask = 16;
}  // namespace

EndRows PathKernel::passes_at(size_t set, const std::vector<Tensor>& deltas, const std::vector<int64_t>& ids,
                              const std::vector<double>& t) {
  std::vector<Tensor> leaves;
  for (const auto& [name, p] : eval_params_) leaves.push_back(p);
  const int64_t R = static_cast<int64_t>(ids.size());
  if (!deltas.empty()) forward_evaluations_ += R;  // the path's; not the values at θ (rows_at), as ever
  // The rows in parts, one whole forward pass per part and thread (rows are independent).
  const int64_t parts = std::clamp<int64_t>(R / kRowsPerTask, 1, num_threads());
  std::vector<EndRows> part(static_cast<size_t>(parts));
  parallel_for(parts, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t r0 = R * q / parts, r1 = R * (q + 1) / parts;
      const std::vector<int64_t> own_ids(ids.begin() + r0, ids.begin() + r1);
      const std::vector<double> own_t(t.begin() + r0, t.begin() + r1);
      NoGradGuard no_grad;
      std::optional<PathPointGuard> guard;
      if (!deltas.empty()) guard.emplace(leaves, deltas, Tensor::from_vector(own_t, {r1 - r0}, leaves.front().dtype()));
      KinkRecorder recorded;
      const Tensor values = probes_.row_values(set, forward_, loss_, Tensor::from_vector(own_ids, {r1 - r0}));
      part[q] = EndRows{values, recorded.preactivations(), recorded.pools()};  // values [r, K]
    }
  });
  return concat_rows(part);
}

PathKernel::Ends PathKernel::ends_of(size_t set, const std::vector<Tensor>& deltas, const std::vector<Piece>& pieces,
                                     const std::vector<int64_t>& row_piece) {
  // The distinct ends (input, t) of the pieces, and each piece's two of them.
  std::map<std::pair<int64_t, double>, int64_t> index;
  std::vector<int64_t> end_input, piece_a(pieces.size()), piece_b(pieces.size());
  std::vector<double> end_t;
  auto end_of = [&](int64_t input, double t) {
    const auto [it, added] = index.emplace(std::pair{input, t}, static_cast<int64_t>(end_t.size()));
    if (added) {
      end_input.push_back(input);
      end_t.push_back(t);
    }
    return it->second;
  };
  for (size_t p = 0; p < pieces.size(); ++p) {
    piece_a[p] = end_of(pieces[p].input, pieces[p].a);
    piece_b[p] = end_of(pieces[p].input, pieces[p].b);
  }
  const EndTable::Evaluate evaluate = [&](const std::vector<int64_t>& inputs, const std::vector<double>& t) {
    return passes_at(set, deltas, inputs, t);
  };
  std::vector<int64_t> row_of;
  const EndRows ends = end_table_.rows(end_input, end_t, evaluate, row_of);
  for (int64_t* p : {piece_a.data(), piece_b.data()})
    for (size_t i = 0; i < pieces.size(); ++i) p[i] = row_of[p[i]];
  const int64_t n = static_cast<int64_t>(pieces.size());
  Ends out{K::index_select(ends.values, 0, Tensor::from_vector(piece_a, {n})).contiguous(),
           K::index_select(ends.values, 0, Tensor::from_vector(piece_b, {n})).contiguous(),
           {}};
  if (!config_.options.active_fractions()) return out;
  std::vector<int64_t> row_a, row_b;
  for (int64_t p : row_piece) {
    row_a.push_back(piece_a[p]);
    row_b.push_back(piece_b[p]);
  }
  const int64_t R = static_cast<int64_t>(row_piece.size());
  out.fractions =
      fractions_between(ends.relu, ends.pools, Tensor::from_vector(row_a, {R}), Tensor::from_vector(row_b, {R}));
  return out;
}

namespace {
// φ̂·Δθ of each piece and slot, [pieces, K]: the data and decay dots [pieces, K, U] summed over
// the units that are whole parameter tensors (the first n; slice units are parts of them).
Tensor piece_totals(const Tensor& data, const Tensor& decay, int64_t n) {
  return K::add(K::sum(K::narrow(data, 2, 0, n), {2}), K::sum(K::narrow(decay, 2, 0, n), {2}));
}

// Rows of one chunk of pieces: every node of every piece, with its input, piece, point and weight.
struct NodeRows {
  std::vector<int64_t> input, piece;
  std::vector<double> t, w;
};

// Nodes at a piece's ends (trapezoid, Simpson, Lobatto) sit on a located ReLU crossing, where the
// derivative jumps: they take the one-sided value from inside the piece, moved in by a relative
// offset far below any tolerance and above the rounding of t in the probe model's dtype.
NodeRows node_rows(const QuadratureRule& rule, const std::vector<PathKernel::Piece>& pieces, DType dtype) {
  const double end_node_offset = dtype == DType::Float64 ? 1e-9 : 1e-5;
  NodeRows rows;
  for (size_t p = 0; p < pieces.size(); ++p) {
    const QuadratureRule r = rule.on(pieces[p].a, pieces[p].b);
    const double inside = (pieces[p].b - pieces[p].a) * end_node_offset;
    for (size_t q = 0; q < r.nodes.size(); ++q) {
      rows.input.push_back(pieces[p].input);
      rows.piece.push_back(static_cast<int64_t>(p));
      rows.t.push_back(std::clamp(r.nodes[q], pieces[p].a + inside, pieces[p].b - inside));
      rows.w.push_back(r.weights[q] * pieces[p].weight);
    }
  }
  return rows;
}
}  // namespace

namespace {
// A unit's data dot from its pair of directions' dots (d[0], d[1]): a whole tensor's pair is
// (Δθ, R), so its data dot is d[0] − d[1] (exact to rounding: Δθ − R is the data part exactly);
// a slice's pair is (data, R) masked.
double data_dot(const double* d, int64_t direction) { return direction == 0 ? d[0] - d[1] : d[0]; }

// Chunks 0 .. n−1 of probe rows as whole tasks, a wave of num_threads() chunks at a time: a wave's
// chunks are prepared in order on the calling thread (prepare(c) may use shared state: the end
// table), then evaluated at the same time, one chunk per thread (evaluate must write only its own
// chunk's results). Rows are independent, so the results are those of one batch but for which
// rows share a matrix product; a wave holds num_threads() chunks' memory at most.
template <class Prepare, class Evaluate>
void chunks_in_waves(int64_t n, const Prepare& prepare, const Evaluate& evaluate) {
  using Chunk = std::invoke_result_t<const Prepare&, int64_t>;
  const int64_t wave = num_threads();
  for (int64_t w0 = 0; w0 < n; w0 += wave) {
    std::vector<Chunk> ready;
    for (int64_t c = w0; c < std::min(n, w0 + wave); ++c) ready.push_back(prepare(c));
    parallel_for(static_cast<int64_t>(ready.size()), 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) evaluate(ready[static_cast<size_t>(c)]);
    });
  }
}
}  // namespace

int64_t PathKernel::pieces_per_chunk(int64_t pieces) const {
  const int64_t most = std::max<int64_t>(
      1, config_.options.probe_chunk_size() / static_cast<int64_t>(config_.options.rule().nodes.size()));
  // As many chunks as that needs, rounded up to a multiple of the threads (each takes whole
  // chunks), and all of about the same size.
  const int64_t threads = num_threads(), needed = (pieces + most - 1) / most;
  const int64_t chunks = std::max<int64_t>(1, std::min((needed + threads - 1) / threads * threads, pieces));
  return (pieces + chunks - 1) / chunks;
}

PathKernel::PieceDots PathKernel::evaluate_pieces(size_t set, const std::vector<Piece>& pieces,
                                                  const std::vector<Tensor>& deltas,
                                                  const std::vector<std::vector<Tensor>>& directions) {
  const int64_t slots = probes_.num_slots(set), U = static_cast<int64_t>(unit_param_.size()), n = layout_.count();
  std::vector<Tensor> leaves;
  for (const auto& [name, p] : eval_params_) leaves.push_back(p);
  const DType dtype = leaves.front().dtype();
  const int64_t np_all = static_cast<int64_t>(pieces.size()), per_chunk = pieces_per_chunk(np_all);
  PieceDots out{Tensor::zeros({np_all, slots, U}, DType::Float64), Tensor::zeros({np_all, slots, U}, DType::Float64),
                Tensor::zeros({np_all, slots}, DType::Float64)};
  const auto prepare = [&](int64_t c) {
    const int64_t p0 = c * per_chunk;
    const std::vector<Piece> chunk(pieces.begin() + p0, pieces.begin() + std::min(np_all, p0 + per_chunk));
    struct {
      int64_t first;  // the chunk's first piece
      NodeRows rows;
      Ends ends;
    } ch{p0, node_rows(config_.options.rule(), chunk, dtype), {}};
    evaluations_ += static_cast<int64_t>(ch.rows.input.size());
    if (config_.options.adaptive() || config_.options.active_fractions())
      ch.ends = ends_of(set, deltas, chunk, ch.rows.piece);
    return ch;
  };
  const auto evaluate = [&](const auto& ch) {
    const NodeRows& rows = ch.rows;
    const int64_t c = static_cast<int64_t>(rows.input.size()), p0 = ch.first, np = rows.piece.back() + 1;
    PathPointGuard guard(leaves, deltas, Tensor::from_vector(rows.t, {c}, dtype));
    ActiveFractions at_nodes(ch.ends.fractions.relu, ch.ends.fractions.pools);
    const std::vector<Tensor> dots =
        probes_.row_dots(set, forward_, loss_, eval_params_, directions, Tensor::from_vector(rows.input, {c}));
    // Unit u of row i, slot k: dots[p][i, k, dir] (data) and dir + 1 (decay), weighted, summed per piece.
    double* pd = out.data.data<double>() + p0 * slots * U;
    double* py = out.decay.data<double>() + p0 * slots * U;
    for (int64_t i = 0; i < c; ++i)
      for (int64_t u = 0; u < U; ++u) {
        const Tensor& d = dots[unit_param_[u]];
        const int64_t kp = d.size(2);
        const double* dp = d.data<double>() + i * slots * kp + unit_direction_[u];
        for (int64_t k = 0; k < slots; ++k) {
          pd[(rows.piece[i] * slots + k) * U + u] += rows.w[i] * data_dot(dp + k * kp, unit_direction_[u]);
          py[(rows.piece[i] * slots + k) * U + u] += rows.w[i] * dp[k * kp + 1];
        }
      }
    if (ch.ends.fa.defined()) {  // each piece's own residual F(b) − F(a) − φ̂·Δθ: [np, K]
      const Tensor q = piece_totals(K::narrow(out.data, 0, p0, np), K::narrow(out.decay, 0, p0, np), n);
      K::narrow(out.local, 0, p0, np).copy_(K::sub(K::sub(ch.ends.fb, ch.ends.fa), q));
    }
  };
  chunks_in_waves((np_all + per_chunk - 1) / per_chunk, prepare, evaluate);
  return out;
}

namespace {
// The inputs of a sample-level set that have pieces, in chunks for add_full_gradients: in order
// of their number of pieces, so that the inputs of a chunk need little padding to the chunk's
// largest; a chunk holds at most `max_inputs` inputs and, beyond its first, `max_rows` node rows.
std::vector<std::vector<int64_t>> input_chunks(const std::vector<std::vector<PathKernel::Piece>>& of_input,
                                               int64_t nodes, int64_t max_inputs, int64_t max_rows) {
  std::vector<int64_t> order;
  for (int64_t j = 0; j < static_cast<int64_t>(of_input.size()); ++j)
    if (!of_input[j].empty()) order.push_back(j);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return of_input[a].size() < of_input[b].size(); });
  std::vector<std::vector<int64_t>> chunks;
  for (int64_t j : order) {
    const int64_t rows = nodes * static_cast<int64_t>(of_input[j].size());  // the largest so far
    if (chunks.empty() || static_cast<int64_t>(chunks.back().size()) >= max_inputs ||
        (static_cast<int64_t>(chunks.back().size()) + 1) * rows > max_rows)
      chunks.emplace_back();
    chunks.back().push_back(j);
  }
  return chunks;
}
}  // namespace

namespace {
// The per-parameter parts of one step in one pass over rows of φ̂ [m, P] (memory-bound): for
// every row, data += φ̂ ⊙ (Δθ − R) and decay += φ̂ ⊙ R; each product rounded once, as
// kernel::mul then kernel::add_ round it.
void add_parameter_parts(const Tensor& phi, const Tensor& data_delta, const Tensor& non_data, const Tensor& data,
                         const Tensor& decay) {
  for (const Tensor* t : {&data, &decay})
    if (!t->is_contiguous()) throw std::logic_error("PathKernel: parameter totals must be contiguous");
  const int64_t M = phi.size(0), P = phi.size(1);
  const Tensor ph = phi.contiguous(), dd = data_delta.contiguous(), nd = non_data.contiguous();
  const double *f = ph.data<double>(), *a = dd.data<double>(), *r = nd.data<double>();
  double *to_data = data.data<double>(), *to_decay = decay.data<double>();
  parallel_for(M, 1, [&](int64_t m0, int64_t m1) {
    for (int64_t i = m0 * P; i < m1 * P; i += P)
      for (int64_t p = 0; p < P; ++p) {
        to_data[i + p] += f[i + p] * a[p];
        to_decay[i + p] += f[i + p] * r[p];
      }
  });
}
}  // namespace

void PathKernel::add_full_gradients(size_t set, const std::vector<Piece>& pieces, const std::vector<Tensor>& deltas,
                                    const StepDots& out) {
  // Each input's integrated gradient Σ_nodes w ∇F is formed inside one per-sample pass over its
  // node rows (seeds w, per_sample_grad's rows_per_sample): never [rows, K, P]. The inputs of a
  // chunk have the same number of rows: shorter ones are padded with zero-weight copies of their
  // last node, which add exactly nothing.
  const int64_t slots = probes_.num_slots(set), sample_first = probes_.first_sample_row(set);
  std::vector<Tensor> leaves;
  for (const auto& [name, p] : eval_params_) leaves.push_back(p);
  const DType dtype = leaves.front().dtype();
  std::vector<std::vector<Piece>> of_input(static_cast<size_t>(probes_.num_inputs(set)));
  for (const Piece& pc : pieces) of_input[pc.input].push_back(pc);
  const int64_t nodes = static_cast<int64_t>(config_.options.rule().nodes.size());
  // The result [inputs, K, P] of a chunk stays near 64 MB.
  const int64_t max_inputs = std::max<int64_t>(1, (int64_t{1} << 23) / std::max<int64_t>(1, slots * layout_.size()));
  // At most probe_chunk_size rows per chunk, and no more than a thread's share of all rows.
  const int64_t all_rows = nodes * static_cast<int64_t>(pieces.size()), threads = num_threads();
  const int64_t max_rows = std::min(config_.options.probe_chunk_size(), (all_rows + threads - 1) / threads);
  const std::vector<std::vector<int64_t>> chunks = input_chunks(of_input, nodes, max_inputs, max_rows);
  const auto prepare = [&](int64_t c) {
    struct {
      std::vector<int64_t> inputs;  // one group of rows per input
      NodeRows rows;
      Ends ends;
    } ch{chunks[static_cast<size_t>(c)], {}, {}};
    const int64_t per_input = nodes * static_cast<int64_t>(of_input[ch.inputs.back()].size());
    std::vector<Piece> chunk;
    for (int64_t j : ch.inputs) {
      const NodeRows own = node_rows(config_.options.rule(), of_input[j], dtype);
      if (!config_.options.adaptive()) evaluations_ += static_cast<int64_t>(own.t.size());  // the set's only evaluation
      for (int64_t r = 0; r < per_input; ++r) {
        const size_t from = static_cast<size_t>(std::min<int64_t>(r, static_cast<int64_t>(own.t.size()) - 1));
        ch.rows.input.push_back(j);
        ch.rows.piece.push_back(static_cast<int64_t>(chunk.size()) + own.piece[from]);
        ch.rows.t.push_back(own.t[from]);
        ch.rows.w.push_back(r < static_cast<int64_t>(own.t.size()) ? own.w[from] : 0.0);
      }
      chunk.insert(chunk.end(), of_input[j].begin(), of_input[j].end());
    }
    if (config_.options.active_fractions()) ch.ends = ends_of(set, deltas, chunk, ch.rows.piece);
    return ch;
  };
  const auto evaluate = [&](const auto& ch) {  // takes the chunk's own inputs' gradients
    const int64_t c = static_cast<int64_t>(ch.rows.t.size()), groups = static_cast<int64_t>(ch.inputs.size());
    PathPointGuard guard(leaves, deltas, Tensor::from_vector(ch.rows.t, {c}, dtype));
    ActiveFractions at_nodes(ch.ends.fractions.relu, ch.ends.fractions.pools);
    const Tensor g =
        probes_.row_gradients(set, forward_, loss_, eval_params_, layout_, Tensor::from_vector(ch.rows.input, {c}),
                              Tensor::from_vector(ch.rows.w, {c}, dtype), c / groups);  // [inputs, K, P]
    for (int64_t i = 0; i < groups; ++i)
      take_gradients(sample_first + ch.inputs[static_cast<size_t>(i)] * slots, K::squeeze(K::narrow(g, 0, i, 1), 0),
                     out);
  };
  chunks_in_waves(static_cast<int64_t>(chunks.size()), prepare, evaluate);
}

void PathKernel::take_gradients(int64_t row, const Tensor& g, const StepDots& out) const {
  const int64_t k = g.size(0);
  if (out.phi.defined()) K::add_(K::narrow(out.phi, 0, row, k), g);
  if (!param_total_.defined()) return;
  // The data parts go to the open window when there are windows (added to the total as it closes).
  const Tensor& data = param_window_.defined() ? param_window_ : param_total_;
  add_parameter_parts(g, out.data_delta, out.non_data, K::narrow(data, 0, row, k),
                      K::narrow(param_decay_total_, 0, row, k));
}

void PathKernel::add_dots_from_gradients(size_t set, const Tensor& phi,
                                         const std::vector<std::vector<Tensor>>& directions, StepDots& out) const {
  const int64_t rows = probes_.num_inputs(set) * probes_.num_slots(set), first = probes_.first_scalar(set);
  const Tensor set_phi = K::narrow(phi, 0, probes_.first_sample_row(set), rows);  // [rows, P]
  for (int64_t u = 0; u < static_cast<int64_t>(unit_param_.size()); ++u) {
    const int64_t p = unit_param_[u];
    const Tensor g = layout_.segment(set_phi, p).contiguous();  // [rows, numel_p]
    auto dot = [&](int64_t d) { return K::matmul(g, K::reshape(directions[p][d].to(DType::Float64), {-1, 1})); };
    const int64_t d = unit_direction_[u];
    const Tensor decay = dot(d + 1), data = d == 0 ? K::sub(dot(d), decay) : dot(d);  // [rows, 1]
    K::add_(K::narrow(K::narrow(out.data, 0, first, rows), 1, u, 1), data);
    K::add_(K::narrow(K::narrow(out.decay, 0, first, rows), 1, u, 1), decay);
  }
}

void PathKernel::integrate_set(size_t set, const Tensor& f_change, const std::vector<Tensor>& deltas,
                               const std::vector<std::vector<Tensor>>& directions, const StepEnds* ends,
                               StepDots& out) {
  const int64_t slots = probes_.num_slots(set), first = probes_.first_scalar(set);
  end_table_.clear();  // ends are kept within one set of one step; the step's own ends first
  if (ends) {
    std::vector<int64_t> all(static_cast<size_t>(probes_.num_inputs(set)));
    std::iota(all.begin(), all.end(), int64_t{0});
    end_table_.add(all, std::vector<double>(all.size(), 0.0), ends->start[set]);
    end_table_.add(all, std::vector<double>(all.size(), 1.0), ends->end[set]);
  }
  const Edges edges = kink_edges(set, deltas);
  std::vector<Piece> pieces;
  for (size_t j = 0; j < edges.size(); ++j)
    for (size_t e = 0; e + 1 < edges[j].size(); ++e)
      pieces.push_back({static_cast<int64_t>(j), edges[j][e], edges[j][e + 1]});
  const bool full_gradients =
      (config_.options.per_sample() || config_.parameter_wise()) && probes_.first_sample_row(set) >= 0;
  if (full_gradients && !config_.options.adaptive()) {
    add_full_gradients(set, pieces, deltas, out);
    add_dots_from_gradients(set, out.phi, directions, out);
    return;
  }
  Pieces active{pieces, evaluate_pieces(set, pieces, deltas, directions)}, done;
  for (int depth = 1; config_.options.adaptive() && depth <= config_.options.max_depth(); ++depth) {
    const std::vector<bool> refine = to_refine(set, f_change, active, done);
    if (std::none_of(refine.begin(), refine.end(), [](bool r) { return r; })) break;
    deepest_ = std::max(deepest_, depth);
    active = refined(set, deltas, directions, active, refine, done);
  }
  for (const Pieces* part : {&done, &active})
    for (int64_t p = 0; p < static_cast<int64_t>(part->pieces.size()); ++p) {
      const int64_t row = first + part->pieces[p].input * slots;
      K::add_(K::narrow(out.data, 0, row, slots), K::squeeze(K::narrow(part->dots.data, 0, p, 1), 0));
      K::add_(K::narrow(out.decay, 0, row, slots), K::squeeze(K::narrow(part->dots.decay, 0, p, 1), 0));
    }
  if (full_gradients) {
    std::vector<Piece> final_pieces = done.pieces;
    final_pieces.insert(final_pieces.end(), active.pieces.begin(), active.pieces.end());
    add_full_gradients(set, final_pieces, deltas, out);
  }
}

std::vector<bool> PathKernel::to_refine(size_t set, const Tensor& f_change, const Pieces& active,
                                        const Pieces& done) const {
  const int64_t slots = probes_.num_slots(set), first = probes_.first_scalar(set), n = layout_.count();
  std::vector<double> residual(static_cast<size_t>(probes_.num_inputs(set) * slots), 0.0);  // −Σ φ̂·Δθ per input
  for (const Pieces* part : {&active, &done}) {
    if (part->pieces.empty()) continue;
    const Tensor q = piece_totals(part->dots.data, part->dots.decay, n);  // [pieces, K]
    for (int64_t p = 0; p < static_cast<int64_t>(part->pieces.size()); ++p)
      for (int64_t k = 0; k < slots; ++k) residual[part->pieces[p].input * slots + k] -= q.at({p, k});
  }
  std::vector<bool> refine;
  for (int64_t p = 0; p < static_cast<int64_t>(active.pieces.size()); ++p) {
    const Piece& pc = active.pieces[p];
    bool above = false, local_above = false;
    for (int64_t k = 0; k < slots; ++k) {
      above |= !(std::abs(f_change.at({first + pc.input * slots + k}) + residual[pc.input * slots + k]) <=
                 config_.options.tolerance());
      local_above |= !(std::abs(active.dots.local.at({p, k})) <= config_.options.tolerance() * (pc.b - pc.a));
    }
    refine.push_back(above && local_above);
  }
  return refine;
}

namespace {
Tensor index_tensor(const std::vector<int64_t>& v) { return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}); }
}  // namespace

PathKernel::Pieces PathKernel::refined(size_t set, const std::vector<Tensor>& deltas,
                                       const std::vector<std::vector<Tensor>>& directions, const Pieces& active,
                                       const std::vector<bool>& refine, Pieces& done) {
  const int64_t slots = probes_.num_slots(set);
  std::vector<int64_t> keep, parents, parent_of;
  std::vector<Piece> rejected;
  for (int64_t p = 0; p < static_cast<int64_t>(refine.size()); ++p) {
    (refine[p] ? parents : keep).push_back(p);
    if (refine[p]) rejected.push_back(active.pieces[p]);
  }
  const std::vector<Piece> halves = halve(set, deltas, rejected, parent_of);
  const PieceDots more = evaluate_pieces(set, halves, deltas, directions);
  // Each rejected piece's halves (rows of `more`), and whether its Richardson combination
  // (4·(halves) − piece) / 3 — exact for an error ∝ h² — leaves a residual within tolerance.
  std::vector<std::vector<int64_t>> halves_of(rejected.size());
  for (int64_t h = 0; h < static_cast<int64_t>(halves.size()); ++h) halves_of[parent_of[h]].push_back(h);
  std::vector<int64_t> accepted, accepted_halves, open_halves;
  for (size_t i = 0; i < rejected.size(); ++i) {
    bool ok = config_.options.extrapolate() && halves_of[i].size() == 2;
    for (int64_t k = 0; ok && k < slots; ++k) {
      const double local = (4 * (more.local.at({halves_of[i][0], k}) + more.local.at({halves_of[i][1], k})) -
                            active.dots.local.at({parents[i], k})) /
                           3;
      ok = std::abs(local) <= config_.options.tolerance() * (rejected[i].b - rejected[i].a);
    }
    if (ok) accepted.push_back(static_cast<int64_t>(i));
    for (int64_t h : halves_of[i]) (ok ? accepted_halves : open_halves).push_back(h);
  }
  auto rows = [](const PieceDots& d, const std::vector<int64_t>& idx, double scale) {
    const Tensor i = index_tensor(idx);
    return PieceDots{K::mul_scalar(K::index_select(d.data, 0, i), scale),
                     K::mul_scalar(K::index_select(d.decay, 0, i), scale),
                     K::mul_scalar(K::index_select(d.local, 0, i), scale)};
  };
  auto append = [](Pieces& to, std::vector<Piece> pieces, const PieceDots& d) {
    to.dots = to.pieces.empty() ? d
                                : PieceDots{K::cat({to.dots.data, d.data}, 0), K::cat({to.dots.decay, d.decay}, 0),
                                            K::cat({to.dots.local, d.local}, 0)};
    to.pieces.insert(to.pieces.end(), pieces.begin(), pieces.end());
  };
  if (!accepted.empty()) {
    std::vector<int64_t> accepted_parents;
    std::vector<Piece> combination;
    for (int64_t i : accepted) {
      accepted_parents.push_back(parents[i]);
      combination.push_back(rejected[i]);
      combination.back().weight = -1.0 / 3;
    }
    for (int64_t h : accepted_halves) {
      combination.push_back(halves[h]);
      combination.back().weight = 4.0 / 3;
    }
    const PieceDots from_parents = rows(active.dots, accepted_parents, -1.0 / 3),
                    from_halves = rows(more, accepted_halves, 4.0 / 3);
    append(
        done, combination,
        PieceDots{K::cat({from_parents.data, from_halves.data}, 0), K::cat({from_parents.decay, from_halves.decay}, 0),
                  K::cat({from_parents.local, from_halves.local}, 0)});
  }
  Pieces next{{}, rows(active.dots, keep, 1.0)};
  for (int64_t p : keep) next.pieces.push_back(active.pieces[p]);
  std::vector<Piece> open;
  for (int64_t h : open_halves) open.push_back(halves[h]);
  append(next, open, rows(more, open_halves, 1.0));
  return next;
}

std::vector<PathKernel::Piece> PathKernel::halve(size_t set, const std::vector<Tensor>& deltas,
                                                 const std::vector<Piece>& rejected, std::vector<int64_t>& parent_of) {
  // Each rejected piece [a, b] becomes [a, m], [m, b]; the new midpoints can reveal crossings its
  // ends hid (a unit that turns off and on again within it): those are located and split at too.
  std::vector<int64_t> input_of;
  Edges edges;
  for (const Piece& pc : rejected) {
    input_of.push_back(pc.input);
    edges.push_back({pc.a, 0.5 * (pc.a + pc.b), pc.b});
  }
  if (config_.options.kink_aware() && !rejected.empty()) add_kinks(set, deltas, input_of, edges);
  std::vector<Piece> out;
  parent_of.clear();
  for (size_t i = 0; i < rejected.size(); ++i)
    for (size_t e = 0; e + 1 < edges[i].size(); ++e) {
      out.push_back({input_of[i], edges[i][e], edges[i][e + 1]});
      parent_of.push_back(static_cast<int64_t>(i));
    }
  return out;
}

void PathKernel::step(const StepRecord& r) {
  if (r.step != steps_)
    throw std::invalid_argument(fmt::format("PathKernel: step {} given, expected step {}", r.step, steps_));
  const int64_t P = layout_.size();
  for (const Tensor* t : {&r.theta0, &r.theta1, &r.non_data})
    if (t->shape() != Shape{P} || t->dtype() != DType::Float64)
      throw std::invalid_argument(fmt::format("PathKernel: step vectors must be float64 [{}]", P));
  // Every probe input's forward pass at θ_{t+1}: the values there, and with those at θ_t (made as
  // the last step's end, or again after a resume: the same passes) the pieces' first and last ends.
  StepEnds ends{std::move(next_start_), rows_at(r.theta1)};
  const bool seed = fits_end_table(ends.end);
  if ((seed || steps_ == 0) && ends.start.empty()) ends.start = rows_at(r.theta0);
  if (steps_ == 0) {
    f_current_ = values_of(ends.start);
    f_initial_ = f_current_.clone();
  }
  const Tensor delta = K::sub(r.theta1, r.theta0);
  const Tensor data_delta = K::sub(delta, r.non_data);
  const Tensor f_next = values_of(ends.end);
  const Tensor f_change = K::sub(f_next, f_current_);
  const StepDots dots = integrate(r.theta0, delta, data_delta, r.non_data, f_change, seed ? &ends : nullptr);
  next_start_ = seed ? std::move(ends.end) : std::vector<EndRows>{};
  const Tensor data = accumulate(dots, f_change);
  if (config_.options.per_sample()) account_samples(r, dots.phi, data, data_delta);
  f_current_ = f_next;
  ++steps_;
  if (window_ends_after(steps_)) close_window();
}

PathKernel::StepDots PathKernel::integrate(const Tensor& theta0, const Tensor& delta, const Tensor& data_delta,
                                           const Tensor& non_data, const Tensor& f_change, const StepEnds* ends) {
  const int64_t P = layout_.size(), n = layout_.count();
  auto as_param = [&](const Tensor& flat, int64_t p) {
    return K::reshape(layout_.segment(flat, p).contiguous(), layout_.shape(p)).to(eval_params_[p].second.dtype());
  };
  std::vector<Tensor> deltas;
  for (int64_t p = 0; p < n; ++p) deltas.push_back(as_param(delta, p));
  // Directions per tensor: the update Δθ_p itself (the path point's own tensor, whose contraction
  // reuses the forward's product: the data dot is then its dot minus the decay's, see
  // data_dot), the decay R_p, then (data, decay) masked by each slice on it.
  std::vector<std::vector<Tensor>> directions(static_cast<size_t>(n));
  std::vector<Tensor> data_parts(static_cast<size_t>(n));  // Δθ_p − R_p, for the sliced tensors
  for (int64_t p = 0; p < n; ++p) directions[p] = {deltas[p], as_param(non_data, p)};
  for (const ResolvedComponent& c : components_)  // in the order of slices_ (see the units)
    for (const auto& [p, mask] : c.slices) {
      const Tensor m = mask.to(directions[p][1].dtype());
      if (!data_parts[p].defined()) data_parts[p] = as_param(data_delta, p);
      directions[p].push_back(K::mul(data_parts[p], m));
      directions[p].push_back(K::mul(directions[p][1], m));
    }
  // φ̂_s·(directions) for every probe scalar: per probe set, each input on its own pieces.
  layout_.assign(theta0, eval_params_);
  const int64_t M = probes_.size(), U = unit_data_.size(1);
  StepDots dots{Tensor::zeros({M, U}, DType::Float64), Tensor::zeros({M, U}, DType::Float64), Tensor(), data_delta,
                non_data};
  // φ̂ itself only for the sample level and for dots taken from it; the per-parameter totals take
  // each input's gradients as they come (take_gradients).
  if (config_.options.per_sample() || (config_.parameter_wise() && !config_.options.adaptive()))
    dots.phi = Tensor::zeros({probes_.sample_level_size(), P}, DType::Float64);
  for (size_t set = 0; set < probes_.sets().size(); ++set) integrate_set(set, f_change, deltas, directions, ends, dots);
  return dots;
}

Tensor PathKernel::accumulate(const StepDots& dots, const Tensor& f_change) {
  const int64_t n = layout_.count();
  const Tensor data = K::sum(K::narrow(dots.data, 1, 0, n), {1});    // [M]
  const Tensor decay = K::sum(K::narrow(dots.decay, 1, 0, n), {1});  // [M]
  const Tensor total = K::add(data, decay);
  const Tensor residual = K::sub(f_change, total);
  K::add_(data_total_, data);
  K::add_(decay_total_, decay);
  K::add_(residual_sum_, residual);
  K::add_(residual_abs_, K::abs(residual));
  residual_max_ = K::maximum(residual_max_, K::abs(residual));
  for (auto [acc, part] : {std::pair{&unit_data_, &dots.data},
                           {&unit_decay_, &dots.decay},
                           {&window_data_, &dots.data},
                           {&window_decay_, &dots.decay}})
    K::add_(*acc, *part);
  step_stream_.append(total);
  residual_stream_.append(residual);
  return data;
}

void PathKernel::account_samples(const StepRecord& r, const Tensor& phi, const Tensor& data, const Tensor& data_delta) {
  // End-to-end check: the samples' shares must add up to the data part of the update. Both
  // sides are sums that cancel — over parameters, φ̂·(Δθ − R), and over training samples, Σ_i
  // share_i — and rounding (float32 training, float32 buffers) is relative to their terms, so
  // the gap is measured against Σ_p |φ̂_p (Δθ − R)_p| + Σ_i |share_i|. [M_s]
  const auto start = std::chrono::steady_clock::now();
  const int64_t P = layout_.size();
  const Tensor shares = sample_step(r, phi);  // [M_s, N]
  const Tensor got = K::sum(shares, {1});
  const Tensor rows = Tensor::from_vector(sample_rows_, {static_cast<int64_t>(sample_rows_.size())});
  const Tensor expected = K::index_select(data, 0, rows);
  const Tensor scale = K::add(K::reshape(K::matmul(K::abs(phi), K::reshape(K::abs(data_delta), {P, 1})), {-1}),
                              K::sum(K::abs(shares), {1}))
                           .contiguous();
  const Tensor gap = K::abs(K::sub(got, expected)).contiguous();
  for (int64_t m = 0; m < gap.numel(); ++m) {
    const double s = scale.data<double>()[m];
    worst_mismatch_ = std::max(worst_mismatch_, gap.data<double>()[m] / (s > 0 ? s : 1.0));
  }
  sample_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Tensor PathKernel::sample_step(const StepRecord& r, const Tensor& phi) {
  const SampleShares shares = config_.options.communicator()
                                  ? sharded_sample_step(*config_.options.communicator(), *shard_, r, phi, phi.size(0))
                                  : shard_->step(r, phi);
  K::add_(sample_total_, shares.total);
  K::add_(sample_window_, shares.total);
  if (shares.components.defined()) K::add_(sample_comp_, shares.components);
  const Tensor r_row = K::reshape(r.non_data, {layout_.size(), 1});
  K::add_(sample_decay_, K::reshape(K::matmul(phi, r_row), {phi.size(0)}));
  return shares.total;
}

bool PathKernel::window_ends_after(int64_t steps) const {
  if (config_.options.window_edges().empty()) return steps - window_begin_ == config_.options.window();
  return std::find(config_.options.window_edges().begin(), config_.options.window_edges().end(), steps) !=
         config_.options.window_edges().end();
}

void PathKernel::close_window() {
  if (steps_ == window_begin_) return;
  windows_.emplace_back(window_begin_, steps_);
  comp_window_data_stream_.append(units_to_components(window_data_, components_, slices_, layout_.count()));
  comp_window_decay_stream_.append(units_to_components(window_decay_, components_, slices_, layout_.count()));
  window_data_.fill_(0.0);
  window_decay_.fill_(0.0);
  if (config_.options.per_sample()) {
    sample_window_stream_.append(sample_window_);
    sample_window_.fill_(0.0);
  }
  if (param_window_.defined()) {
    param_window_stream_.append(param_window_);
    K::add_(param_total_, param_window_);
    param_window_.fill_(0.0);
  }
  window_begin_ = steps_;
}

void PathKernel::finish(const Tensor& theta_final) {
  close_window();
  f_final_ = values_of(rows_at(theta_final));
  if (!f_initial_.defined()) f_initial_ = f_final_.clone();
  for (RowStream* s : {&step_stream_, &residual_stream_, &comp_window_data_stream_, &comp_window_decay_stream_,
                       &sample_window_stream_, &param_window_stream_})
    if (s->active()) s->finish();
}

std::vector<std::pair<std::string, Tensor*>> PathKernel::state_tensors() {
  std::vector<std::pair<std::string, Tensor*>> all = {
      {"f_initial", &f_initial_},         {"f_current", &f_current_},
      {"data_total", &data_total_},       {"decay_total", &decay_total_},
      {"residual_sum", &residual_sum_},   {"residual_abs", &residual_abs_},
      {"residual_max", &residual_max_},   {"unit_data", &unit_data_},
      {"unit_decay", &unit_decay_},       {"window_data", &window_data_},
      {"window_decay", &window_decay_},   {"sample_total", &sample_total_},
      {"sample_window", &sample_window_}, {"sample_comp", &sample_comp_},
      {"param_total", &param_total_},     {"param_decay_total", &param_decay_total_},
      {"param_window", &param_window_},   {"sample_decay", &sample_decay_}};
  std::vector<std::pair<std::string, Tensor*>> defined;
  for (auto& e : all)
    if (e.second->defined()) defined.push_back(e);
  return defined;
}

std::vector<std::pair<std::string, RowStream*>> PathKernel::streams() {
  return {{"step_influence", &step_stream_},
          {"residuals", &residual_stream_},
          {"component_window_data", &comp_window_data_stream_},
          {"component_window_decay", &comp_window_decay_stream_},
          {"sample_window_data", &sample_window_stream_},
          {"parameter_window_data", &param_window_stream_}};
}

void PathKernel::save_state(const std::string& dir) {
  if (steps_ == 0) throw std::logic_error("PathKernel::save_state: no step has been accounted for yet");
  NamedTensors tensors;
  for (const auto& [name, t] : state_tensors()) tensors.emplace_back(name, *t);
  nlohmann::json meta = {
      {"steps", steps_},     {"evaluations", evaluations_},       {"forward_evaluations", forward_evaluations_},
      {"deepest", deepest_}, {"worst_mismatch", worst_mismatch_}, {"window_begin", window_begin_},
      {"windows", windows_}};
  for (const auto& [name, s] : streams()) {
    s->flush();
    if (s->active()) meta["stream_rows"][name] = s->rows();
  }
  save_safetensors(dir + "/tracker_state.safetensors", tensors, {{"pathgrad.tracker", meta.dump()}});
  if (shard_) shard_->save(dir, steps_);
}

void PathKernel::load_state(const std::string& dir) {
  const std::string path = dir + "/tracker_state.safetensors";
  const auto fail = [&](const std::string& problem) { throw std::runtime_error(fmt::format("{}: {}", path, problem)); };
  const SafetensorsContents c = load_safetensors(path);
  auto it = c.metadata.find("pathgrad.tracker");
  if (it == c.metadata.end()) fail("not a tracker state (no pathgrad.tracker metadata)");

  // Check everything before changing anything: every tensor this configuration keeps, by name,
  // dtype and shape, nothing else; then the counters.
  const std::map<std::string, Tensor> saved = expect_state_tensors(c.tensors, path);
  const SavedCounters counters = read_counters(parse_json(it->second, path + ": metadata 'pathgrad.tracker'"), path);

  if (shard_) shard_->load(dir, counters.steps);  // checks its files first, changing nothing when it throws
  for (const auto& [name, t] : state_tensors()) *t = saved.at(name).clone();
  f_initial_ = saved.at("f_initial").clone();
  f_current_ = saved.at("f_current").clone();
  steps_ = counters.steps;
  evaluations_ = counters.evaluations;
  forward_evaluations_ = counters.forward_evaluations;
  deepest_ = counters.deepest;
  worst_mismatch_ = counters.worst_mismatch;
  window_begin_ = counters.window_begin;
  windows_ = counters.windows;
  for (const auto& [name, s] : streams())
    if (s->active()) s->resume(counters.stream_rows.at(name));
}

std::map<std::string, Tensor> PathKernel::expect_state_tensors(const NamedTensors& tensors, const std::string& path) {
  std::map<std::string, std::pair<Shape, DType>> expected;
  for (const auto& [name, t] : state_tensors()) expected[name] = {t->shape(), t->dtype()};
  expected["f_initial"] = expected["f_current"] = {Shape{probes_.size()}, DType::Float64};
  std::map<std::string, Tensor> found(tensors.begin(), tensors.end());
  for (const auto& [name, want] : expected) {
    auto f = found.find(name);
    if (f == found.end())
      throw std::runtime_error(
          fmt::format("{}: missing '{}': the tracker's configuration differs from the saved one", path, name));
    if (f->second.shape() != want.first || f->second.dtype() != want.second)
      throw std::runtime_error(fmt::format("{}: '{}' is {} {} in the file, expected {} {}: the configuration differs",
                                           path, name, dtype_name(f->second.dtype()), shape_str(f->second.shape()),
                                           dtype_name(want.second), shape_str(want.first)));
  }
  for (const auto& [name, t] : found)
    if (!expected.count(name))
      throw std::runtime_error(fmt::format(
          "{}: unexpected tensor '{}': the tracker's configuration differs from the saved one", path, name));
  return found;
}

PathKernel::SavedCounters PathKernel::read_counters(const nlohmann::json& meta, const std::string& path) {
  try {
    SavedCounters c;
    c.steps = json_int(meta.at("steps"), "steps", 1);
    c.evaluations = json_int(meta.at("evaluations"), "evaluations");
    if (meta.contains("forward_evaluations"))  // states saved before it was counted: 0
      c.forward_evaluations = json_int(meta.at("forward_evaluations"), "forward_evaluations");
    c.deepest = static_cast<int>(json_int(meta.at("deepest"), "deepest", 0, std::numeric_limits<int>::max()));
    if (!meta.at("worst_mismatch").is_number()) throw std::invalid_argument("field 'worst_mismatch' must be a number");
    c.worst_mismatch = meta.at("worst_mismatch").get<double>();
    c.window_begin = json_int(meta.at("window_begin"), "window_begin", 0, c.steps);
    const nlohmann::json& windows = meta.at("windows");
    if (!windows.is_array()) throw std::invalid_argument("field 'windows' must be an array of [begin, end] pairs");
    for (const nlohmann::json& w : windows) {
      if (!w.is_array() || w.size() != 2)
        throw std::invalid_argument("field 'windows' must be an array of [begin, end] pairs");
      const int64_t begin = json_int(w[0], "windows", 0, c.window_begin),
                    end = json_int(w[1], "windows", begin + 1, c.window_begin);
      c.windows.emplace_back(begin, end);
    }
    for (const auto& [name, s] : streams())
      if (s->active())
        c.stream_rows[name] = json_int(meta.at("stream_rows").at(name), "stream_rows." + name, 0, c.steps);
    return c;
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(fmt::format("{}: metadata 'pathgrad.tracker': {}", path, e.what()));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("{}: metadata 'pathgrad.tracker': {}", path, e.what()));
  }
}

Tensor PathKernel::replica() const { return K::add(f_initial_, K::add(data_total_, decay_total_)); }

Tensor PathKernel::component_data() const {
  return units_to_components(unit_data_, components_, slices_, layout_.count());
}
Tensor PathKernel::component_decay() const {
  return units_to_components(unit_decay_, components_, slices_, layout_.count());
}
Tensor PathKernel::sample_level_decay() const { return sample_decay_; }

}  // namespace pathgrad::explaind
