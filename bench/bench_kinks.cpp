// How a CNN probe's path crosses ReLU kinks within one training step, and what that costs each
// integration strategy: the CIFAR-2 example's training (SGD, momentum, coupled weight decay, the
// triangle schedule) is run plainly; at chosen steps s the segment θ_s → θ_{s+1} is examined on a
// float64 copy of the model, per probe input:
//   crossings   units (ReLU pre-activations) whose sign changes between consecutive points of a
//               uniform grid of G + 1 points (a lower bound on the true count, exact when no unit
//               crosses twice within 1/G), and between t = 0 and t = 1 only
//   pool switches  max-pool windows whose maximum moves between t = 0 and t = 1
//   uniform(n)  Gauss–Legendre(2) and midpoint on n equal pieces: |ρ| = |f(1) − f(0) − Σ nodes|;
//               Gauss–Legendre(2) with active fractions (autograd/active_fractions.hpp) for the
//               ReLU units and max-pool windows that switch within a piece, and for ReLUs only
//   local(tol)  pieces bisected while their own residual f(b) − f(a) − Q exceeds tol·(b − a)
// One JSON line per examined step (path-kernel.md §4c–§4d, benchmarks.md). --model grokking
// examines a small grokking transformer (ReLUs, no pools) the same way.
//
//   ./build/bench/bench_kinks --width 8 --images 2048 --probes 16 --at 0,40,120,195,300,460
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <memory>
#include <numeric>

#include "autograd/active_fractions.hpp"
#include "autograd/engine.hpp"
#include "autograd/path_point.hpp"
#include "bench/workloads.hpp"
#include "explaind/param_layout.hpp"
#include "explaind/probes.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

using namespace pathgrad;
namespace K = kernel;

namespace {

// The probe scalars along one segment of the float64 model, one input at a time or in batches.
struct Segment {
  explaind::ProbeScalars& probes;
  explaind::ForwardFn forward;
  explaind::LossFn loss;
  NamedTensors params;
  std::vector<Tensor> leaves, deltas;
  std::vector<std::vector<Tensor>> directions;  // per parameter: {Δθ}
  int64_t evaluations = 0;

  // f at points t of inputs ids: [R] (slot 0), and the pre-activations [R, U] (and per relu call)
  // when wanted.
  Tensor values(const std::vector<int64_t>& ids, const std::vector<double>& t, Tensor* units = nullptr,
                std::vector<Tensor>* per_call = nullptr, std::vector<KinkRecorder::Pool>* pools = nullptr) {
    NoGradGuard no_grad;
    const int64_t R = static_cast<int64_t>(ids.size());
    PathPointGuard guard(leaves, deltas, Tensor::from_vector(t, {R}, DType::Float64));
    KinkRecorder rec;
    const Tensor v = probes.row_values(0, forward, loss, Tensor::from_vector(ids, {R}));
    if (units) *units = rec.units().to(DType::Float64).contiguous();
    if (per_call) *per_call = rec.preactivations();
    if (pools) *pools = rec.pools();
    return K::reshape(K::narrow(v, 1, 0, 1), {R}).contiguous();
  }
  // f'(t) = ∇F·Δθ at points t of inputs ids: [R]; relu slopes of rows [r0, r0 + c) from
  // `override_for(r0, c)` when given.
  std::vector<double> slopes(const std::vector<int64_t>& ids, const std::vector<double>& t,
                             const std::function<ActiveFractions*(size_t, size_t)>& override_for = {}) {
    std::vector<double> out;
    for (size_t r0 = 0; r0 < ids.size(); r0 += 128) {
      const size_t c = std::min<size_t>(128, ids.size() - r0);
      std::vector<int64_t> id(ids.begin() + r0, ids.begin() + r0 + c);
      std::vector<double> tt(t.begin() + r0, t.begin() + r0 + c);
      PathPointGuard guard(leaves, deltas, Tensor::from_vector(tt, {static_cast<int64_t>(c)}, DType::Float64));
      std::unique_ptr<ActiveFractions> fractions(override_for ? override_for(r0, c) : nullptr);
      const std::vector<Tensor> dots =
          probes.row_dots(0, forward, loss, params, directions, Tensor::from_vector(id, {static_cast<int64_t>(c)}));
      for (size_t i = 0; i < c; ++i) {
        double s = 0;
        for (const Tensor& d : dots) s += d.at({static_cast<int64_t>(i), 0, 0});
        out.push_back(s);
      }
      evaluations += static_cast<int64_t>(c);
    }
    return out;
  }
};

// Per row: the units whose sign differs between a and b (both float64 [R, U], contiguous).
std::vector<int64_t> sign_changes(const Tensor& a, const Tensor& b) {
  const int64_t R = a.size(0), U = a.size(1);
  std::vector<int64_t> out(static_cast<size_t>(R), 0);
  const double* pa = a.data<double>();
  const double* pb = b.data<double>();
  for (int64_t r = 0; r < R; ++r)
    for (int64_t u = 0; u < U; ++u) out[r] += (pa[r * U + u] > 0) != (pb[r * U + u] > 0);
  return out;
}

// Per row: the max-pool windows (of every pool call) whose chosen position differs between two
// points.
std::vector<int64_t> pool_switches(const std::vector<KinkRecorder::Pool>& a, const std::vector<KinkRecorder::Pool>& b) {
  std::vector<int64_t> out;
  for (size_t p = 0; p < a.size(); ++p) {
    const Tensor ia = a[p].indices.contiguous(), ib = b[p].indices.contiguous();
    const int64_t R = ia.size(0), per_row = ia.numel() / R;
    out.resize(static_cast<size_t>(R), 0);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k = 0; k < per_row; ++k)
        out[r] += ia.data<int64_t>()[r * per_row + k] != ib.data<int64_t>()[r * per_row + k];
  }
  return out;
}

// Per input: crossings between consecutive points of a G-grid and between the ends; f(0), f(1).
struct Crossings {
  std::vector<int64_t> grid, ends;
  std::vector<int64_t> pools;  // max-pool windows whose maximum moved between t = 0 and 1
  std::vector<double> f0, f1;
};

Crossings count_crossings(Segment& seg, int64_t inputs, int64_t G) {
  Crossings c;
  c.grid.assign(static_cast<size_t>(inputs), 0);
  std::vector<int64_t> ids(static_cast<size_t>(inputs));
  std::iota(ids.begin(), ids.end(), 0);
  Tensor first, prev;
  std::vector<KinkRecorder::Pool> pools0;
  for (int64_t k = 0; k <= G; ++k) {
    Tensor units;
    std::vector<KinkRecorder::Pool> pools;
    const Tensor v =
        seg.values(ids, std::vector<double>(ids.size(), static_cast<double>(k) / G), &units, nullptr, &pools);
    if (k == 0) pools0 = pools;
    if (k == G) c.pools = pool_switches(pools0, pools);
    if (k == 0) {
      first = units;
      for (int64_t j = 0; j < inputs; ++j) c.f0.push_back(v.at({j}));
    } else {
      const std::vector<int64_t> flips = sign_changes(prev, units);
      for (int64_t j = 0; j < inputs; ++j) c.grid[j] += flips[j];
    }
    if (k == G) {
      const std::vector<int64_t> flips = sign_changes(first, units);
      for (int64_t j = 0; j < inputs; ++j) {
        c.ends.push_back(flips[j]);
        c.f1.push_back(v.at({j}));
      }
    }
    prev = units;
  }
  return c;
}

// max and median of |ρ| over inputs for a composite rule (nodes/weights on [0, 1]) on n pieces.
std::pair<double, double> uniform_error(Segment& seg, const Crossings& c, int64_t n, const std::vector<double>& nodes,
                                        const std::vector<double>& weights) {
  const int64_t inputs = static_cast<int64_t>(c.f0.size());
  std::vector<int64_t> ids;
  std::vector<double> t, w;
  for (int64_t j = 0; j < inputs; ++j)
    for (int64_t p = 0; p < n; ++p)
      for (size_t q = 0; q < nodes.size(); ++q) {
        ids.push_back(j);
        t.push_back((static_cast<double>(p) + nodes[q]) / static_cast<double>(n));
        w.push_back(weights[q] / static_cast<double>(n));
      }
  const std::vector<double> s = seg.slopes(ids, t);
  std::vector<double> err(static_cast<size_t>(inputs));
  for (int64_t j = 0; j < inputs; ++j) err[j] = c.f1[j] - c.f0[j];
  for (size_t r = 0; r < s.size(); ++r) err[ids[r]] -= w[r] * s[r];
  for (double& e : err) e = std::abs(e);
  std::sort(err.begin(), err.end());
  return {err.back(), err[err.size() / 2]};
}

// Gauss–Legendre(2) on n equal pieces with every crossing unit's derivative replaced by its
// active fraction on the piece (path-kernel.md §4d): max and median |ρ| over inputs.
std::pair<double, double> fraction_error(Segment& seg, const Crossings& c, int64_t n, bool with_pools) {
  const int64_t inputs = static_cast<int64_t>(c.f0.size());
  std::vector<int64_t> edge_ids;
  std::vector<double> edge_t;
  for (int64_t j = 0; j < inputs; ++j)
    for (int64_t p = 0; p <= n; ++p) {
      edge_ids.push_back(j);
      edge_t.push_back(static_cast<double>(p) / static_cast<double>(n));
    }
  std::vector<Tensor> z;  // per relu call: [inputs·(n+1), ...]
  std::vector<KinkRecorder::Pool> pools;
  seg.values(edge_ids, edge_t, nullptr, &z, &pools);
  const double g = 0.5 / std::sqrt(3.0);
  std::vector<int64_t> ids, a_row;
  std::vector<double> t;
  for (int64_t j = 0; j < inputs; ++j)
    for (int64_t p = 0; p < n; ++p)
      for (double node : {0.5 - g, 0.5 + g}) {
        ids.push_back(j);
        t.push_back((static_cast<double>(p) + node) / static_cast<double>(n));
        a_row.push_back(j * (n + 1) + p);
      }
  auto override_for = [&](size_t r0, size_t count) {
    std::vector<int64_t> a(a_row.begin() + r0, a_row.begin() + r0 + count), b(a);
    for (int64_t& x : b) ++x;
    const int64_t R = static_cast<int64_t>(count);
    PieceFractions f = fractions_between(z, with_pools ? pools : std::vector<KinkRecorder::Pool>{},
                                         Tensor::from_vector(a, {R}), Tensor::from_vector(b, {R}));
    return new ActiveFractions(std::move(f.relu), std::move(f.pools));
  };
  const std::vector<double> s = seg.slopes(ids, t, override_for);
  std::vector<double> err(static_cast<size_t>(inputs));
  for (int64_t j = 0; j < inputs; ++j) err[j] = c.f1[j] - c.f0[j];
  for (size_t r = 0; r < s.size(); ++r) err[ids[r]] -= 0.5 / static_cast<double>(n) * s[r];
  for (double& e : err) e = std::abs(e);
  std::sort(err.begin(), err.end());
  return {err.back(), err[err.size() / 2]};
}

// Local refinement of one input with Gauss–Legendre(2) pieces: bisect while the piece's own
// residual exceeds tol·(b − a), at most `depth` times. Returns |ρ| of the input; counts rows.
double local_error(Segment& seg, int64_t j, double f0, double f1, double tol, int depth, int64_t& forwards) {
  const double g = 0.5 / std::sqrt(3.0);
  struct Piece {
    double a, b, fa, fb;
    int d;
  };
  std::vector<Piece> todo{{0.0, 1.0, f0, f1, 0}};
  double total = 0;
  while (!todo.empty()) {
    std::vector<int64_t> ids;
    std::vector<double> t;
    for (const Piece& p : todo) {
      const double m = 0.5 * (p.a + p.b), h = p.b - p.a;
      ids.insert(ids.end(), {j, j});
      t.insert(t.end(), {m - g * h, m + g * h});
    }
    const std::vector<double> s = seg.slopes(ids, t);
    std::vector<Piece> split;
    for (size_t i = 0; i < todo.size(); ++i) {
      const Piece& p = todo[i];
      const double q = 0.5 * (p.b - p.a) * (s[2 * i] + s[2 * i + 1]);
      if (std::abs(p.fb - p.fa - q) <= tol * (p.b - p.a) || p.d == depth) {
        total += p.fb - p.fa - q;
        continue;
      }
      split.push_back(p);
    }
    todo.clear();
    if (split.empty()) break;
    std::vector<int64_t> mids_id(split.size(), j);
    std::vector<double> mids;
    for (const Piece& p : split) mids.push_back(0.5 * (p.a + p.b));
    const Tensor fm = seg.values(mids_id, mids);
    forwards += static_cast<int64_t>(split.size());
    for (size_t i = 0; i < split.size(); ++i) {
      const Piece& p = split[i];
      const double m = mids[i], f = fm.at({static_cast<int64_t>(i)});
      todo.push_back({p.a, m, p.fa, f, p.d + 1});
      todo.push_back({m, p.b, f, p.fb, p.d + 1});
    }
  }
  return std::abs(total);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("ReLU crossings per probe and step on the CIFAR-2 CNN, and each strategy's error (JSON lines)");
  std::string model = "cnn";
  bench::CnnSpec cnn;
  cnn.width = 8;
  cnn.batch = 256;
  cnn.n_train = 2048;
  cnn.probes = 16;
  cnn.lr = 0.1;
  cnn.weight_decay = 5e-3;
  cnn.epochs = 12;
  std::vector<int64_t> at = {0, 40, 120, 195, 300, 460};
  std::vector<double> tolerances = {1e-6, 1e-7, 1e-8};
  int64_t grid = 256, max_pieces = 256;
  int threads = 2, depth = 12;
  app.add_option("--model", model, "cnn (the CIFAR-2 example's training) or grokking (p = 23, 150 pairs, AdamW)")
      ->check(CLI::IsMember({"grokking", "cnn"}));
  app.add_option("--width", cnn.width, "width w of the paper's ResNet-9");
  app.add_option("--images", cnn.n_train, "training images (0: all 10,000)");
  app.add_option("--batch", cnn.batch, "batch size");
  app.add_option("--epochs", cnn.epochs, "epochs of the triangle schedule");
  app.add_option("--probes", cnn.probes, "probe test images (label log-probability)");
  app.add_option("--data", cnn.data_dir, "CIFAR-10 binary directory");
  app.add_option("--at", at, "steps to examine")->delimiter(',');
  app.add_option("--grid", grid, "G: crossings counted between G + 1 equally spaced points");
  app.add_option("--max-pieces", max_pieces, "uniform rules on 1, 2, 4, ... up to this many pieces");
  app.add_option("--tolerances", tolerances, "local refinement: residual per unit of t")->delimiter(',');
  app.add_option("--depth", depth, "local refinement: bisections at most");
  app.add_option("--threads", threads, "threads");
  CLI11_PARSE(app, argc, argv);
  cnn.sample_probes = cnn.probes;
  set_num_threads(threads);
  bench::GrokkingSpec grok;
  grok.p = 23;
  grok.n_train = 150;
  grok.n_val = 126;
  grok.val_probes = grok.sample_probes = cnn.probes;
  std::unique_ptr<bench::Workload> w = model == "grokking" ? bench::grokking_workload(grok) : bench::cnn_workload(cnn);
  std::shared_ptr<nn::Module> probe_model = w->make_probe_model();
  probe_model->to(DType::Float64);
  explaind::ProbeScalars probes(w->probes, model == "grokking" ? grok.p + 2 : 2);
  const NamedTensors trained = w->model->named_parameters();
  const explaind::ParamLayout layout(trained);
  Segment seg{
      probes,
      [&](const Tensor& x) { return probe_model->forward(x.dtype() == DType::Float32 ? x.to(DType::Float64) : x); },
      bench::per_sample_nll,
      probe_model->named_parameters(),
      {},
      {},
      {}};
  for (const auto& [name, p] : seg.params) seg.leaves.push_back(p);
  const int64_t inputs = probes.num_inputs(0);
  std::sort(at.begin(), at.end());
  int64_t s = 0;
  for (int64_t target : at) {
    for (; s < target; ++s) w->step();
    const Tensor theta0 = layout.flatten(trained);
    const double lr = w->optimizer->scheduled_lr();
    w->step();
    ++s;
    const Tensor delta = K::sub(layout.flatten(trained), theta0);
    layout.assign(theta0, seg.params);
    seg.deltas.clear();
    seg.directions.clear();
    for (int64_t p = 0; p < layout.count(); ++p) {
      seg.deltas.push_back(K::reshape(layout.segment(delta, p).contiguous(), layout.shape(p)));
      seg.directions.push_back({seg.deltas.back()});
    }
    const Crossings c = count_crossings(seg, inputs, grid);
    double change = 0;
    for (int64_t j = 0; j < inputs; ++j) change += std::abs(c.f1[j] - c.f0[j]) / static_cast<double>(inputs);
    std::vector<int64_t> sorted = c.grid;
    std::sort(sorted.begin(), sorted.end());
    std::string line = fmt::format(
        "{{\"step\": {}, \"width\": {}, \"lr\": {:.4f}, \"probe_inputs\": {}, \"mean_abs_change\": {:.4g}, "
        "\"crossings_grid{}\": {{\"min\": {}, \"median\": {}, \"max\": {}}}, \"crossings_ends_median\": {}",
        target, cnn.width, lr, inputs, change, grid, sorted.front(), sorted[sorted.size() / 2], sorted.back(), [&] {
          auto e = c.ends;
          std::sort(e.begin(), e.end());
          return e[e.size() / 2];
        }());
    line += fmt::format(", \"pool_switches\": [{}]", fmt::join(c.pools, ", "));
    for (int64_t n = 1; n <= max_pieces; n *= 2) {
      const double g = 0.5 / std::sqrt(3.0);
      const auto [gl_max, gl_med] = uniform_error(seg, c, n, {0.5 - g, 0.5 + g}, {0.5, 0.5});
      const auto [mp_max, mp_med] = uniform_error(seg, c, n, {0.5}, {1.0});
      const auto [fr_max, fr_med] = fraction_error(seg, c, n, true);
      const auto [fro_max, fro_med] = fraction_error(seg, c, n, false);
      line += fmt::format(
          ", \"uniform{}\": {{\"gl2_max\": {:.3g}, \"gl2_median\": {:.3g}, \"mid_max\": {:.3g}, \"mid_median\": "
          "{:.3g}, "
          "\"fraction_max\": {:.3g}, \"fraction_median\": {:.3g}, \"relu_only_max\": {:.3g}}}",
          n, gl_max, gl_med, mp_max, mp_med, fr_max, fr_med, fro_max);
    }
    for (double tol : tolerances) {
      seg.evaluations = 0;
      int64_t forwards = 0;
      double worst = 0;
      for (int64_t j = 0; j < inputs; ++j)
        worst = std::max(worst, local_error(seg, j, c.f0[j], c.f1[j], tol, depth, forwards));
      line += fmt::format(
          ", \"local{:g}\": {{\"max\": {:.3g}, \"gradients_per_input\": {:.1f}, \"forwards_per_input\": {:.1f}}}", tol,
          worst, static_cast<double>(seg.evaluations) / inputs, static_cast<double>(forwards) / inputs);
    }
    std::cout << line << "}\n" << std::flush;
  }
  return 0;
}
