// The tracker: an optimizer observer that turns each step into a StepRecord for the PathKernel,
// estimates the cost up front, and writes the exports at the end.
#include "explaind/tracker.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "autograd/engine.hpp"
#include "explaind/exports.hpp"
#include "explaind/sample_exchange.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::explaind {
namespace K = kernel;

namespace {

// Restores a module's training flag on scope exit.
class EvalMode {
 public:
  explicit EvalMode(nn::Module& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalMode() { m_.train(was_training_); }

 private:
  nn::Module& m_;
  bool was_training_;
};

// Floating-point inputs in the dtype of the model they are fed to (a float64 probe model gets the
// float32 data of a float32 training run, converted exactly); integer inputs (tokens) unchanged.
Tensor as_model_input(const Tensor& x, DType model_dtype) {
  const bool floating = x.dtype() == DType::Float32 || x.dtype() == DType::Float64;
  return floating && x.dtype() != model_dtype ? x.to(model_dtype) : x;
}

DType floating_dtype_of(nn::Module& model) {
  const NamedTensors params = model.named_parameters();
  return params.empty() ? DType::Float32 : params.front().second.dtype();
}

int64_t num_classes_of(nn::Module& model, const std::vector<ProbeSet>& probes) {
  if (probes.empty() || !probes[0].x.defined() || probes[0].x.size(0) == 0)
    throw std::invalid_argument("Tracker: at least one probe set with inputs is required");
  NoGradGuard no_grad;
  EvalMode eval(model);
  const Tensor out = model.forward(as_model_input(K::narrow(probes[0].x, 0, 0, 1), floating_dtype_of(model)));
  if (out.dim() != 2 || out.size(0) != 1)
    throw std::invalid_argument(fmt::format(
        "Tracker: the model must map [M, ...] inputs to [M, C] outputs; it returned {}", shape_str(out.shape())));
  return out.size(1);
}

std::string bytes_str(double b) {
  if (b >= 1e9) return fmt::format("{:.2f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  return fmt::format("{:.0f} kB", b / 1e3);
}

}  // namespace

std::string Cost::report() const {
  std::string s = fmt::format(
      "explaind tracker: {} probe scalars ({} in sample-level probe sets), {} parameters, {} components, {} training "
      "samples\n",
      probe_scalars, sample_level_probes, parameters, components, training_samples);
  if (ranks > 1)
    s += fmt::format(
        "  sample level over {} ranks, at most {} training samples each\n"
        "  memory held per rank: {} on rank 0 (per-sample buffers {} per rank)\n",
        ranks, samples_per_rank, bytes_str(memory_bytes), bytes_str(buffer_bytes));
  else
    s += fmt::format("  memory held: {} (per-sample buffers {})\n", bytes_str(memory_bytes), bytes_str(buffer_bytes));
  s += "  plus each step's working memory (probe batches, one per thread; summary.json: peak_tensor_bytes)\n";
  s += fmt::format("  per step: {} quadrature nodes x {} contracted probe gradients", nodes_per_step, probe_scalars);
  if (sample_level_probes > 0)
    s += fmt::format(", {:.0f} full gradients, {:.2f} GFLOP of kernel products", sample_gradients_per_step,
                     kernel_flops_per_step / 1e9);
  return s + " (more on refined steps)\n";
}

namespace {

// The training samples of the rank that holds the most, with N samples in `shards` blocks over
// `ranks` ranks (SampleShard).
int64_t most_samples_per_rank(int64_t N, int64_t shards, int ranks) {
  int64_t most = 0;
  for (int r = 0; r < ranks; ++r) {
    const optim::ShardPlan plan(N, shards, r, ranks, "TrackerOptions::sample_shards");
    most = std::max(most, plan.begin(plan.end_shard()) - plan.begin(plan.first_shard()));
  }
  return most;
}

// What the tracker will hold and spend per step (Cost), from its probe scalars, parameters and
// components, before anything is allocated.
Cost estimate_cost(const PathKernelConfig& cfg, const ProbeScalars& scalars, const ParamLayout& layout,
                   const std::vector<Component>& components, int64_t batch_size) {
  int64_t slice_elements = 0, slices = 0;
  for (const Component& c : components) {
    const ResolvedComponent r = resolve(c, layout);
    slices += static_cast<int64_t>(r.slices.size());
    for (const auto& [p, mask] : r.slices) slice_elements += layout.numel(p);
  }
  Cost k;
  k.probe_scalars = scalars.size();
  k.sample_level_probes = cfg.options.per_sample() || cfg.parameter_wise() ? scalars.sample_level_size() : 0;
  k.parameters = layout.size();
  k.components = static_cast<int64_t>(components.size());
  k.training_samples = cfg.num_samples;
  k.nodes_per_step = static_cast<int64_t>(cfg.options.rule().nodes.size());
  const double M = static_cast<double>(k.probe_scalars), Ms = static_cast<double>(k.sample_level_probes);
  const double P = static_cast<double>(k.parameters), N = static_cast<double>(k.training_samples);
  k.ranks = cfg.options.per_sample() && cfg.options.communicator() ? cfg.options.communicator()->size() : 1;
  // Throws, naming sample_shards, unless the blocks fit the samples and ranks.
  k.samples_per_rank =
      cfg.options.per_sample() ? most_samples_per_rank(cfg.num_samples, cfg.options.sample_shards(), k.ranks) : 0;
  const double Nr = static_cast<double>(k.samples_per_rank);
  const double U = static_cast<double>(layout.count() + slices), C = static_cast<double>(k.components);
  k.memory_bytes = 8.0 * (6 * M + 8 * M * U + 2 * M * C + 8 * P + 2 * (P + static_cast<double>(slice_elements)));
  if (cfg.options.per_sample()) {
    k.buffer_bytes = Nr * P * static_cast<double>(dtype_size(cfg.options.buffer_dtype()));
    k.memory_bytes += k.buffer_bytes + 8.0 * (3 * Ms * P + 3 * static_cast<double>(cfg.options.chunk_size()) * P +
                                              Ms * N * (4 + (cfg.options.combinations() ? 2 * C : 0)));
    if (k.ranks > 1)  // φ̂ sent (as a vector) and every rank's shares received, on rank 0
      k.memory_bytes += 8.0 * (Ms * P + Ms * N * (1 + (cfg.options.combinations() ? C : 0)));
    k.sample_gradients_per_step = static_cast<double>(k.nodes_per_step) * Ms + static_cast<double>(batch_size);
    k.kernel_flops_per_step = 2.0 * Ms * Nr * P * (cfg.options.combinations() ? 2.0 : 1.0);
  } else if (cfg.parameter_wise()) {  // the sample-level probes' gradients: φ̂ only for dots from it
    k.memory_bytes += 8.0 * (cfg.options.adaptive() ? 2 : 3) * Ms * P;
    k.sample_gradients_per_step = static_cast<double>(k.nodes_per_step) * Ms;
  }
  if (cfg.parameter_wise())  // total, decay and (per window) window accumulators
    k.memory_bytes += 8.0 * (cfg.options.parameter_windows() ? 3 : 2) * Ms * P;
  k.probe_gradients_per_step = static_cast<double>(k.nodes_per_step) * M;
  return k;
}

}  // namespace

// Everything the tracker is built from, checked, with its cost; nothing allocated yet.
struct Tracker::Plan {
  ProbeScalars scalars;
  std::vector<Component> components;
  PathKernelConfig config;
  Cost cost;
};

Tracker::Plan Tracker::plan(nn::Module& model, const optim::Optimizer& optimizer, const nn::data::DataLoader& loader,
                            nn::Module& eval_model, std::vector<ProbeSet> probes, const TrackerOptions& options) {
  const ParamLayout layout(optimizer.named_parameters());
  layout.check_matches(model.named_parameters(), "Tracker: the model's parameters vs the optimizer's");
  layout.check_matches(eval_model.named_parameters(), "Tracker: the probe model's parameters vs the optimizer's");
  if (options.reduction() == nn::Reduction::None)
    throw std::invalid_argument("Tracker: reduction() must be the training loss's, Mean or Sum (not None)");
  if (options.combinations() && !options.per_sample())
    throw std::invalid_argument("Tracker: combinations() needs per_sample(true)");
  const int64_t classes = num_classes_of(eval_model, probes);
  ProbeScalars scalars(std::move(probes), classes);
  if (options.per_sample() && scalars.sample_level_size() == 0)
    throw std::invalid_argument("Tracker: per_sample(true) needs a probe set with sample_level = true");
  PathKernelConfig cfg{options, loader.dataset().size()};
  if (cfg.parameter_wise() && scalars.sample_level_size() == 0)
    throw std::invalid_argument("Tracker: parameter_wise(true) needs a probe set with sample_level = true");
  std::vector<Component> components = default_components(layout);
  components.insert(components.end(), options.components().begin(), options.components().end());
  const Cost cost = estimate_cost(cfg, scalars, layout, components, loader.options().batch_size());
  return Plan{std::move(scalars), std::move(components), std::move(cfg), cost};
}

Cost Tracker::estimate(nn::Module& model, const optim::Optimizer& optimizer, const nn::data::DataLoader& loader,
                       std::vector<ProbeSet> probes, const TrackerOptions& options) {
  nn::Module& eval_model = options.probe_model() ? *options.probe_model() : model;
  return plan(model, optimizer, loader, eval_model, std::move(probes), options).cost;
}

Tracker::Tracker(nn::Module& model, optim::Optimizer& optimizer, const nn::data::DataLoader& loader, LossFn loss,
                 std::vector<ProbeSet> probes, TrackerOptions options)
    : model_(model),
      optimizer_(optimizer),
      loader_(loader),
      loss_(std::move(loss)),
      options_(std::move(options)),
      eval_model_(options_.probe_model() ? *options_.probe_model() : model) {
  if (!loss_) throw std::invalid_argument("Tracker: a per-sample loss function is required");
  Plan p = plan(model_, optimizer_, loader_, eval_model_, std::move(probes), options_);
  cost_ = p.cost;
  if (cost_.memory_bytes > options_.memory_budget())
    throw std::invalid_argument(fmt::format(
        "Tracker: this configuration needs about {}{} (per-sample buffers {}), over the memory budget of {}; "
        "use fewer probes, float32 buffers, no sample level, more ranks, or raise memory_budget()",
        bytes_str(cost_.memory_bytes), cost_.ranks > 1 ? " per rank" : "", bytes_str(cost_.buffer_bytes),
        bytes_str(options_.memory_budget())));
  // The optimizer's gradient carries the training dtype's rounding, the shares the probe model's.
  const bool all_float64 = optimizer_.named_parameters().front().second.dtype() == DType::Float64 &&
                           eval_model_.named_parameters().front().second.dtype() == DType::Float64;
  if (options_.check_tolerance() <= 0) options_.check_tolerance(all_float64 ? 1e-6 : 1e-3);

  nn::Module& m = eval_model_;
  const DType eval_dtype = floating_dtype_of(m);
  const ForwardFn forward = [&m, eval_dtype](const Tensor& x) { return m.forward(as_model_input(x, eval_dtype)); };
  layout_ = ParamLayout(optimizer_.named_parameters());
  const optim::Communicator* comm = options_.communicator();
  if (!comm || comm->is_root()) {
    kernel_ = std::make_unique<PathKernel>(std::move(p.scalars), forward, loss_, eval_model_.named_parameters(),
                                           std::move(p.components), p.config);
    if (p.config.resume()) kernel_->load_state(options_.resume_from());
  } else if (p.config.options.per_sample()) {
    shard_ = make_shard(p, forward);
    if (p.config.resume()) shard_->load(options_.resume_from(), optimizer_.steps_taken());
  }
  optimizer_.add_observer(this);
  attached_ = true;
}

std::unique_ptr<SampleShard> Tracker::make_shard(const Plan& p, const ForwardFn& forward) {
  const ParamLayout eval_layout(eval_model_.named_parameters());
  std::vector<ResolvedComponent> components;
  if (p.config.options.combinations())
    for (const Component& c : p.components) components.push_back(resolve(c, eval_layout));
  return make_sample_shard(p.config, forward, loss_, eval_model_.named_parameters(), components);
}

const PathKernel& Tracker::kernel() const {
  if (!kernel_) throw std::logic_error("Tracker::kernel: the path kernel is rank 0's");
  return *kernel_;
}

Tracker::~Tracker() {
  if (attached_) optimizer_.remove_observer(this);
}

void Tracker::before_step(const optim::Optimizer& optimizer) {
  theta_before_ = layout_.flatten(optimizer.named_parameters());
}

namespace {
// Runs f with the evaluation model in eval mode; when it is the training model itself, its
// parameters are restored bit for bit afterwards.
template <class F>
void on_eval_model(nn::Module& eval_model, const nn::Module& model, const NamedTensors& params, F f) {
  std::vector<Tensor> saved;
  if (&eval_model == &model)
    for (const auto& [name, p] : params) saved.push_back(p.clone());
  {
    EvalMode eval(eval_model);
    f();
  }
  for (size_t i = 0; i < saved.size(); ++i) params[i].second.copy_(saved[i]);
}
}  // namespace

void Tracker::after_step(const optim::Optimizer& optimizer, const optim::StepDescription& desc) {
  if (!kernel_ && !shard_) return;  // a rank without a share of the sample level
  const StoragePeakMeter meter;
  account_step(optimizer, desc);
  peak_tensor_bytes_ = std::max(peak_tensor_bytes_, static_cast<double>(meter.peak()));
}

void Tracker::account_step(const optim::Optimizer& optimizer, const optim::StepDescription& desc) {
  const auto start = std::chrono::steady_clock::now();
  const ParamLayout& layout = layout_;
  const NamedTensors params = optimizer.named_parameters();
  const int64_t P = layout.size(), n = layout.count();
  StepRecord r;
  r.step = optimizer.steps_taken() - 1;
  r.theta0 = theta_before_;
  r.theta1 = layout.flatten(params);
  r.non_data = Tensor::zeros({P}, DType::Float64);
  const bool sample_level = options_.per_sample();
  if (sample_level) {
    // A parameter absent from the description was skipped: its buffer keeps its value.
    r.buffer_decay.assign(static_cast<size_t>(n), 1.0);
    r.grad_scale.assign(static_cast<size_t>(n), 0.0);
    r.buffer_coef = Tensor::zeros({P}, DType::Float64);
    r.direct_coef = Tensor::zeros({P}, DType::Float64);
  }
  for (const optim::ParamStep& ps : desc.params) {
    const int64_t p = layout.index(ps.name);
    auto put = [&](const Tensor& flat, const Tensor& value) {
      layout.segment(flat, p).copy_(K::reshape(value.contiguous(), {-1}));
    };
    if (ps.non_data.defined()) put(r.non_data, ps.non_data);
    if (!sample_level) continue;
    r.buffer_decay[p] = ps.buffer_decay;
    r.grad_scale[p] = ps.grad_scale;
    put(r.buffer_coef, ps.buffer_coef.materialize(layout.shape(p), DType::Float64));
    put(r.direct_coef, ps.direct_coef.materialize(layout.shape(p), DType::Float64));
  }
  if (sample_level) {
    const nn::data::Batch& batch = loader_.last_batch();
    r.batch_x = batch.x;
    r.batch_y = batch.y;
    r.batch_ids = batch.ids;
    const double a = options_.reduction() == nn::Reduction::Mean ? 1.0 / static_cast<double>(batch.ids.numel()) : 1.0;
    r.batch_weights = Tensor::full({batch.ids.numel()}, a, DType::Float64);
  }
  if (shard_) {  // the rank's share of rank 0's sample level
    on_eval_model(eval_model_, model_, params, [&] {
      sharded_sample_step(*options_.communicator(), *shard_, r, Tensor(), cost_.sample_level_probes);
    });
    return;
  }
  on_eval_model(eval_model_, model_, params, [&] { kernel_->step(r); });
  if (sample_level && kernel_->worst_linear_form_mismatch() > options_.check_tolerance())
    throw std::runtime_error(fmt::format(
        "Tracker: at step {} the training samples' shares add up to the data part of the update only to a relative "
        "{:.3g} (tolerance {:.3g}). The per-sample losses recomputed at θ_s do not reproduce the gradient the "
        "optimizer used: check that the tracker's loss and reduction are the ones trained on, that the batch came "
        "from the tracked loader, and that the model has no randomness (Dropout) or batch statistics in training.",
        r.step, kernel_->worst_linear_form_mismatch(), options_.check_tolerance()));
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Tracker::save_state(const std::string& dir) {
  if (kernel_) kernel_->save_state(dir);
  if (shard_) shard_->save(dir, optimizer_.steps_taken());
}

optim::CheckpointPart Tracker::checkpoint_part(std::string name) {
  return {std::move(name), [this](const std::string& dir) { save_state(dir); }};
}

Summary Tracker::finish() {
  if (!attached_) throw std::logic_error("Tracker::finish: called twice");
  if (!kernel_) {  // another rank's: rank 0 holds the results
    optimizer_.remove_observer(this);
    attached_ = false;
    return Summary{};
  }
  const auto start = std::chrono::steady_clock::now();
  const NamedTensors params = optimizer_.named_parameters();
  const Tensor theta = kernel_->layout().flatten(params);
  on_eval_model(eval_model_, model_, params, [&] { kernel_->finish(theta); });
  optimizer_.remove_observer(this);
  attached_ = false;
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Summary s = summarize(*kernel_);
  s.tracking_seconds = seconds_;
  s.sample_level_seconds = kernel_->sample_level_seconds();
  s.peak_tensor_bytes = peak_tensor_bytes_;
  write_exports(options_.output_dir(), *kernel_, s, cost_);
  return s;
}

}  // namespace pathgrad::explaind
