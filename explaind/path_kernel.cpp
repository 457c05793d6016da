// The path-kernel accounting: quadrature with adaptive refinement, contraction of probe gradients
// with the update's data and weight-decay parts, per-sample buffers, windows and streams.
#include "explaind/path_kernel.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "autograd/ops.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::explaind {
namespace K = kernel;

namespace {
double max_abs(const Tensor& t) { return t.numel() ? K::amax(K::abs(t)).item() : 0.0; }

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

// dst[:, ids[j]] += src[:, j]: dst float64 [M, N] contiguous, src float64 [M, b], ids int64 [b].
void scatter_columns(const Tensor& dst, const Tensor& ids, const Tensor& src_in) {
  const Tensor src = src_in.contiguous();
  const int64_t M = dst.size(0), N = dst.size(1), b = src.size(1);
  const int64_t* id = ids.data<int64_t>();
  double* d = dst.data<double>();
  const double* s = src.data<double>();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < b; ++j) d[m * N + id[j]] += s[m * b + j];
}
}  // namespace

// Contracted dots of the probe gradients over a part [a, b] of a step: for every unit (a whole
// parameter tensor or a slice part of a component) the data and weight-decay products [M, U], and
// for the sample level the integrated gradients themselves [M_s, P].
struct PathKernel::Pieces {
  Tensor data, decay, phi;
  void add(const Pieces& o) {
    K::add_(data, o.data);
    K::add_(decay, o.decay);
    if (phi.defined()) K::add_(phi, o.phi);
  }
};

PathKernel::PathKernel(ProbeScalars probes, ForwardFn forward, LossFn loss, NamedTensors eval_params,
                       std::vector<Component> components, PathKernelConfig config)
    : probes_(std::move(probes)),
      forward_(std::move(forward)),
      loss_(std::move(loss)),
      eval_params_(std::move(eval_params)),
      layout_(eval_params_),
      config_(std::move(config)) {
  if (config_.output_dir.empty()) throw std::invalid_argument("PathKernel: an output directory is required");
  if (config_.window < 1) throw std::invalid_argument(fmt::format("PathKernel: window of {} steps", config_.window));
  if (!(config_.tolerance > 0)) throw std::invalid_argument("PathKernel: the tolerance must be positive");
  if (config_.max_depth < 0 || config_.max_depth > 30)
    throw std::invalid_argument(fmt::format("PathKernel: refinement depth {} outside [0, 30]", config_.max_depth));
  for (const Component& c : components) components_.push_back(resolve(c, layout_));
  for (size_t c = 0; c < components_.size(); ++c)
    for (size_t j = 0; j < components_[c].slices.size(); ++j)
      slices_.emplace_back(components_[c].slices[j].first, static_cast<int64_t>(c));
  const int64_t M = probes_.size(), U = layout_.count() + static_cast<int64_t>(slices_.size());
  const int64_t C = static_cast<int64_t>(components_.size());
  for (Tensor* t : {&data_total_, &decay_total_, &residual_sum_, &residual_abs_, &residual_max_})
    *t = Tensor::zeros({M}, DType::Float64);
  for (Tensor* t : {&unit_data_, &unit_decay_, &window_data_, &window_decay_}) *t = Tensor::zeros({M, U}, DType::Float64);
  const std::string dir = config_.output_dir + "/";
  step_stream_ = RowStream(dir + "step_influence.npy", {M});
  residual_stream_ = RowStream(dir + "residuals.npy", {M});
  comp_window_data_stream_ = RowStream(dir + "component_window_data.npy", {M, C});
  comp_window_decay_stream_ = RowStream(dir + "component_window_decay.npy", {M, C});

  if (config_.sample_level) {
    const int64_t Ms = probes_.sample_level_size(), N = config_.num_samples;
    if (Ms == 0) throw std::invalid_argument("PathKernel: the sample level needs a probe set marked sample_level");
    if (N < 1) throw std::invalid_argument("PathKernel: the sample level needs the training-set size");
    for (int64_t m = 0; m < M; ++m)
      if (probes_.labels()[m].sample_level) sample_rows_.push_back(m);
    buffers_ = std::make_unique<SampleBuffers>(N, layout_, config_.buffer_dtype);
    sample_total_ = Tensor::zeros({Ms, N}, DType::Float64);
    sample_window_ = Tensor::zeros({Ms, N}, DType::Float64);
    sample_decay_ = Tensor::zeros({Ms}, DType::Float64);
    if (config_.sample_components) sample_comp_ = Tensor::zeros({C, Ms, N}, DType::Float64);
    if (config_.parameter_wise) {
      param_total_ = Tensor::zeros({Ms, layout_.size()}, DType::Float64);
      param_decay_total_ = Tensor::zeros({Ms, layout_.size()}, DType::Float64);
    }
    sample_window_stream_ = RowStream(dir + "sample_window_data.npy", {Ms, N});
  }
}

PathKernel::~PathKernel() = default;

Tensor PathKernel::values_at(const Tensor& theta) {
  layout_.assign(theta, eval_params_);
  return probes_.values(forward_, loss_);
}

PathKernel::Pieces PathKernel::evaluate_rule(const Tensor& theta0, const Tensor& delta, double a, double b,
                                             const std::vector<std::vector<Tensor>>& directions) {
  const QuadratureRule rule = config_.rule.on(a, b);
  const int64_t M = probes_.size(), U = layout_.count() + static_cast<int64_t>(slices_.size());
  Pieces out{Tensor::zeros({M, U}, DType::Float64), Tensor::zeros({M, U}, DType::Float64), Tensor()};
  if (config_.sample_level) out.phi = Tensor::zeros({probes_.sample_level_size(), layout_.size()}, DType::Float64);
  std::vector<int64_t> slice_seen(static_cast<size_t>(layout_.count()), 0);
  for (size_t q = 0; q < rule.nodes.size(); ++q) {
    layout_.assign(K::add(theta0, K::mul_scalar(delta, rule.nodes[q])), eval_params_);
    const ProbeScalars::Dots d = probes_.dots(forward_, loss_, eval_params_, directions);
    const double w = rule.weights[q];
    // Unit u < count(): the whole tensor (directions 0, 1); then the slices in order, each
    // taking the next pair of its tensor's directions.
    std::fill(slice_seen.begin(), slice_seen.end(), 0);
    for (int64_t u = 0; u < U; ++u) {
      const int64_t p = u < layout_.count() ? u : slices_[u - layout_.count()].first;
      const int64_t k = u < layout_.count() ? 0 : 2 * (1 + slice_seen[p]++);
      K::add_(K::narrow(out.data, 1, u, 1), K::narrow(d.dots[p], 1, k, 1), w);
      K::add_(K::narrow(out.decay, 1, u, 1), K::narrow(d.dots[p], 1, k + 1, 1), w);
    }
    if (config_.sample_level)
      K::add_(out.phi, probes_.sample_level_gradients(forward_, loss_, eval_params_, layout_), w);
    ++evaluations_;
  }
  return out;
}

PathKernel::Pieces PathKernel::integrate(const Tensor& theta0, const Tensor& delta, double a, double b,
                                         const Tensor& f_a, const Tensor& f_b, int depth,
                                         const std::vector<std::vector<Tensor>>& directions) {
  Pieces p = evaluate_rule(theta0, delta, a, b, directions);
  const int64_t n = layout_.count();
  Tensor predicted = K::add(K::sum(K::narrow(p.data, 1, 0, n), {1}), K::sum(K::narrow(p.decay, 1, 0, n), {1}));
  const double worst = max_abs(K::sub(K::sub(f_b, f_a), predicted));
  if (config_.adaptive && depth < config_.max_depth && worst > config_.tolerance * (b - a)) {
    const double mid = 0.5 * (a + b);
    const Tensor f_mid = values_at(K::add(theta0, K::mul_scalar(delta, mid)));
    Pieces left = integrate(theta0, delta, a, mid, f_a, f_mid, depth + 1, directions);
    left.add(integrate(theta0, delta, mid, b, f_mid, f_b, depth + 1, directions));
    return left;
  }
  deepest_ = std::max(deepest_, depth);
  return p;
}

void PathKernel::step(const StepRecord& r) {
  if (r.step != steps_)
    throw std::invalid_argument(fmt::format("PathKernel: step {} given, expected step {}", r.step, steps_));
  const int64_t P = layout_.size(), n = layout_.count();
  for (const Tensor* t : {&r.theta0, &r.theta1, &r.non_data})
    if (t->shape() != Shape{P} || t->dtype() != DType::Float64)
      throw std::invalid_argument(fmt::format("PathKernel: step vectors must be float64 [{}]", P));
  if (steps_ == 0) {
    f_current_ = values_at(r.theta0);
    f_initial_ = f_current_.clone();
  }
  const Tensor delta = K::sub(r.theta1, r.theta0);
  const Tensor data_delta = K::sub(delta, r.non_data);
  // Directions per tensor: (data, decay), then (data, decay) masked by each slice on it.
  std::vector<std::vector<Tensor>> directions(static_cast<size_t>(n));
  auto as_param = [&](const Tensor& flat, int64_t p) {
    return K::reshape(layout_.segment(flat, p).contiguous(), layout_.shape(p)).to(eval_params_[p].second.dtype());
  };
  for (int64_t p = 0; p < n; ++p) directions[p] = {as_param(data_delta, p), as_param(r.non_data, p)};
  for (const auto& [p, c] : slices_) {
    for (const auto& [sp, mask] : components_[c].slices)
      if (sp == p) {
        directions[p].push_back(K::mul(directions[p][0], mask.to(directions[p][0].dtype())));
        directions[p].push_back(K::mul(directions[p][1], mask.to(directions[p][1].dtype())));
        break;
      }
  }
  const Tensor f_next = values_at(r.theta1);
  Pieces pieces = integrate(r.theta0, delta, 0.0, 1.0, f_current_, f_next, 0, directions);

  const Tensor data = K::sum(K::narrow(pieces.data, 1, 0, n), {1});    // [M]
  const Tensor decay = K::sum(K::narrow(pieces.decay, 1, 0, n), {1});  // [M]
  const Tensor total = K::add(data, decay);
  const Tensor residual = K::sub(K::sub(f_next, f_current_), total);
  K::add_(data_total_, data);
  K::add_(decay_total_, decay);
  K::add_(residual_sum_, residual);
  K::add_(residual_abs_, K::abs(residual));
  residual_max_ = K::maximum(residual_max_, K::abs(residual));
  for (auto [acc, part] : {std::pair{&unit_data_, &pieces.data}, {&unit_decay_, &pieces.decay},
                           {&window_data_, &pieces.data}, {&window_decay_, &pieces.decay}})
    K::add_(*acc, *part);
  step_stream_.append(total);
  residual_stream_.append(residual);
  if (config_.sample_level) {
    // End-to-end check: the samples' shares must add up to the data part of the update.
    const Tensor got = sample_step(r, pieces.phi);
    const Tensor rows = Tensor::from_vector(sample_rows_, {static_cast<int64_t>(sample_rows_.size())});
    const Tensor expected = K::index_select(data, 0, rows);
    const double scale = max_abs(expected);
    worst_mismatch_ = std::max(worst_mismatch_, max_abs(K::sub(got, expected)) / (scale > 0 ? scale : 1.0));
  }
  f_current_ = f_next;
  ++steps_;
  if ((steps_ - window_begin_) == config_.window) close_window();
}

Tensor PathKernel::sample_step(const StepRecord& r, const Tensor& phi) {
  const int64_t P = layout_.size(), n = layout_.count(), N = config_.num_samples;
  if (static_cast<int64_t>(r.buffer_decay.size()) != n || static_cast<int64_t>(r.grad_scale.size()) != n ||
      r.buffer_coef.shape() != Shape{P} || r.direct_coef.shape() != Shape{P} || !r.batch_ids.defined())
    throw std::invalid_argument("PathKernel: the sample level needs the step's linear form and batch");
  buffers_->decay(r.buffer_decay);
  const bool direct = max_abs(r.direct_coef) > 0;
  const Tensor phi_direct = direct ? K::mul(phi, r.direct_coef) : Tensor();  // [M_s, P]
  Tensor step_matrix = Tensor::zeros({phi.size(0), N}, DType::Float64);
  const int64_t C = static_cast<int64_t>(components_.size());
  Tensor step_comp = config_.sample_components ? Tensor::zeros({C, phi.size(0), N}, DType::Float64) : Tensor();

  // Per-sample gradients of the batch at θ_s, chunk by chunk.
  layout_.assign(r.theta0, eval_params_);
  std::vector<Tensor> leaves;
  for (const auto& [name, p] : eval_params_) leaves.push_back(p);
  const int64_t B = r.batch_ids.numel();
  for (int64_t j0 = 0; j0 < B; j0 += config_.chunk_size) {
    const int64_t b = std::min(config_.chunk_size, B - j0);
    const Tensor ids = K::narrow(r.batch_ids, 0, j0, b).contiguous();
    const Tensor a = K::narrow(r.batch_weights, 0, j0, b).contiguous();  // [b]
    Tensor losses = loss_(forward_(K::narrow(r.batch_x, 0, j0, b)), K::narrow(r.batch_y, 0, j0, b));
    std::vector<Tensor> g = per_sample_grad(losses, leaves);
    Tensor grads = Tensor::empty({b, P}, DType::Float64);  // a_i ∇ℓ_i, [b, P]
    for (int64_t p = 0; p < n; ++p) layout_.segment(grads, p).copy_(K::reshape(g[p], {b, -1}));
    grads = K::mul(grads, K::reshape(a.to(DType::Float64), {b, 1}));
    buffers_->add(ids, grads, r.grad_scale);
    if (direct) {  // the part of the step that uses this step's gradient directly: [M_s, b]
      scatter_columns(step_matrix, ids, K::matmul(phi_direct, K::transpose(grads, 0, 1)));
      for (int64_t c = 0; c < C && step_comp.defined(); ++c)
        for (const auto& [lo, hi] : components_[c].ranges)
          scatter_columns(K::squeeze(K::narrow(step_comp, 0, c, 1), 0), ids,
                          K::matmul(K::narrow(phi_direct, 1, lo, hi - lo), K::transpose(K::narrow(grads, 1, lo, hi - lo), 0, 1)));
    }
  }
  // The part carried by the buffers: every training sample seen so far.
  const Tensor phi_buffer = K::mul(phi, r.buffer_coef);  // [M_s, P]
  K::add_(step_matrix, buffers_->products(phi_buffer));
  for (int64_t c = 0; c < C && step_comp.defined(); ++c)
    K::add_(K::squeeze(K::narrow(step_comp, 0, c, 1), 0), buffers_->products(phi_buffer, components_[c].ranges));
  K::add_(sample_total_, step_matrix);
  K::add_(sample_window_, step_matrix);
  if (step_comp.defined()) K::add_(sample_comp_, step_comp);
  const Tensor r_row = K::reshape(r.non_data, {P, 1});
  K::add_(sample_decay_, K::reshape(K::matmul(phi, r_row), {phi.size(0)}));
  if (param_total_.defined()) {
    K::add_(param_total_, K::mul(phi, K::sub(K::sub(r.theta1, r.theta0), r.non_data)));
    K::add_(param_decay_total_, K::mul(phi, r.non_data));
  }
  return K::sum(step_matrix, {1});
}

void PathKernel::close_window() {
  if (steps_ == window_begin_) return;
  windows_.emplace_back(window_begin_, steps_);
  comp_window_data_stream_.append(units_to_components(window_data_, components_, slices_, layout_.count()));
  comp_window_decay_stream_.append(units_to_components(window_decay_, components_, slices_, layout_.count()));
  window_data_.fill_(0.0);
  window_decay_.fill_(0.0);
  if (config_.sample_level) {
    sample_window_stream_.append(sample_window_);
    sample_window_.fill_(0.0);
  }
  window_begin_ = steps_;
}

void PathKernel::finish(const Tensor& theta_final) {
  close_window();
  f_final_ = values_at(theta_final);
  if (!f_initial_.defined()) f_initial_ = f_final_.clone();
  for (RowStream* s : {&step_stream_, &residual_stream_, &comp_window_data_stream_, &comp_window_decay_stream_,
                       &sample_window_stream_})
    if (s->active()) s->finish();
}

Tensor PathKernel::replica() const { return K::add(f_initial_, K::add(data_total_, decay_total_)); }


Tensor PathKernel::component_data() const { return units_to_components(unit_data_, components_, slices_, layout_.count()); }
Tensor PathKernel::component_decay() const { return units_to_components(unit_decay_, components_, slices_, layout_.count()); }
Tensor PathKernel::sample_level_decay() const { return sample_decay_; }

}  // namespace pathgrad::explaind
