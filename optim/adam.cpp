// Adam and AdamW: PyTorch 1.13's update rule on raw pointers, its step description, its state dict.
#include "optim/adam.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "optim/static_flags.hpp"

namespace pathgrad::optim {

namespace {

constexpr const char* optimizer_name(bool decoupled) { return decoupled ? "AdamW" : "Adam"; }

// Pointers into one parameter's tensors for the kernel; null where not in use.
template <class T>
struct AdamPointers {
  T* theta;
  const T* grad;
  T* m;
  T* v;
  T* v_max;      // AMSGrad
  T* m_wd;       // Adam with weight decay: the part of m from λθ
  T* inv_denom;  // description: 1 / denom
  T* non_data;   // description with weight decay
};

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// One parameter's update of n elements at its step count k, in PyTorch's order of operations,
// compiled per combination of flags: AMSGrad (v_max), Coupled (Adam with weight decay: m_wd),
// InvDenom and NonData (what a description wants).
template <bool Decoupled, class T, bool AMSGrad, bool Coupled, bool InvDenom, bool NonData>
void adam_kernel(const BasicAdamOptions<Decoupled>& o, double lr, int64_t k, int64_t n, const AdamPointers<T>& q) {
  const double step_size = lr / (1.0 - std::pow(o.beta1(), static_cast<double>(k)));
  const T bc2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(o.beta2(), static_cast<double>(k))));
  const T b1 = static_cast<T>(o.beta1()), b2 = static_cast<T>(o.beta2());
  const T one_b1 = static_cast<T>(1.0 - o.beta1()), one_b2 = static_cast<T>(1.0 - o.beta2());
  const T eps = static_cast<T>(o.eps()), wd = static_cast<T>(o.weight_decay());
  const T shrink = static_cast<T>(1.0 - lr * o.weight_decay()), neg_step = static_cast<T>(-step_size);
  for (int64_t i = 0; i < n; ++i) {
    const T th = q.theta[i];
    const T decayed = Decoupled ? th * shrink : th;  // AdamW: θ(1 − ηλ), exact 1 without decay
    const T g = Coupled ? q.grad[i] + wd * th : q.grad[i];
    const T m = q.m[i] * b1 + one_b1 * g;
    const T v = q.v[i] * b2 + (one_b2 * g) * g;
    q.m[i] = m;
    q.v[i] = v;
    T v_used = v;
    if constexpr (AMSGrad) {
      const T v_max = q.v_max[i];
      v_used = v_max >= v ? v_max : v;  // torch.maximum (a NaN in v propagates)
      q.v_max[i] = v_used;
    }
    const T denom = std::sqrt(v_used) / bc2_sqrt + eps;
    T m_wd = T(0);
    if constexpr (Coupled) {
      m_wd = q.m_wd[i] * b1 + one_b1 * (wd * th);
      q.m_wd[i] = m_wd;
    }
    if constexpr (InvDenom) q.inv_denom[i] = T(1) / denom;
    if constexpr (NonData) q.non_data[i] = Decoupled ? decayed - th : (neg_step * m_wd) / denom;
    q.theta[i] = decayed + (neg_step * m) / denom;
  }
}

}  // namespace

template <bool Decoupled>
void BasicAdamOptions<Decoupled>::validate() const {
  const std::string who = Decoupled ? "AdamWOptions" : "AdamOptions";
  auto require = [&](bool ok, const char* what, double value) {
    if (!ok) throw std::invalid_argument(fmt::format("{}: {}, got {}", who, what, value));
  };
  require(std::isfinite(lr_) && lr_ >= 0, "lr must be finite and >= 0", lr_);
  require(beta1_ >= 0 && beta1_ < 1, "beta1 must be in [0, 1)", beta1_);
  require(beta2_ >= 0 && beta2_ < 1, "beta2 must be in [0, 1)", beta2_);
  require(std::isfinite(eps_) && eps_ >= 0, "eps must be finite and >= 0", eps_);
  require(std::isfinite(weight_decay_) && weight_decay_ >= 0, "weight_decay must be finite and >= 0", weight_decay_);
}

template <bool Decoupled>
BasicAdam<Decoupled>::BasicAdam(NamedTensors params, Options options)
    : BasicAdam(std::vector<ParamGroup<Options>>{{std::move(params), options}}) {}

template <bool Decoupled>
BasicAdam<Decoupled>::BasicAdam(std::vector<ParamGroup<Options>> groups)
    : GroupedOptimizer<Options>(optimizer_name(Decoupled), std::move(groups)), state_(this->num_parameters()) {}

template <bool Decoupled>
void BasicAdam<Decoupled>::update(const ParamUpdate& p, ParamStep* description) {
  const Options& o = this->options_[p.group];
  State& st = state_[p.index];
  const Shape& shape = p.param.shape();
  const DType dtype = p.param.dtype();
  const bool decay = o.weight_decay() != 0.0;
  if (st.step == 0) {
    st.exp_avg = Tensor::zeros(shape, dtype);
    st.exp_avg_sq = Tensor::zeros(shape, dtype);
    if (o.amsgrad()) st.max_exp_avg_sq = Tensor::zeros(shape, dtype);
    if (!Decoupled && decay) st.exp_avg_wd = Tensor::zeros(shape, dtype);
  }
  const int64_t k = ++st.step;

  Tensor inv_denom, non_data;
  if (description) {
    description->buffer_decay = o.beta1();
    description->grad_scale = (1.0 - o.beta1()) * p.grad_factor;
    inv_denom = Tensor::zeros(shape, dtype);
    description->buffer_coef.scale = -p.lr / (1.0 - std::pow(o.beta1(), static_cast<double>(k)));
    description->buffer_coef.elementwise = inv_denom;
    if (decay) non_data = description->non_data = Tensor::zeros(shape, dtype);
  }

  dispatch_float(dtype, "Adam::step", [&](auto tag) {
    using T = decltype(tag);
    const AdamPointers<T> q{ptr<T>(p.param),           ptr<T>(p.grad),        ptr<T>(st.exp_avg), ptr<T>(st.exp_avg_sq),
                            ptr<T>(st.max_exp_avg_sq), ptr<T>(st.exp_avg_wd), ptr<T>(inv_denom),  ptr<T>(non_data)};
    with_static_flags(
        [&](auto amsgrad, auto coupled, auto inv_denom_on, auto non_data_on) {
          adam_kernel<Decoupled, T, amsgrad, coupled, inv_denom_on, non_data_on>(o, p.lr, k, p.param.numel(), q);
        },
        o.amsgrad(), !Decoupled && decay, inv_denom.defined(), non_data.defined());
  });
}

template <bool Decoupled>
void BasicAdam<Decoupled>::write_state(NamedTensors& out) const {
  this->write_options(out);
  const NamedTensors params = this->named_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    const State& st = state_[i];
    if (st.step == 0) continue;
    const std::string& name = params[i].first;
    out.emplace_back("step." + name, state_int(st.step));
    out.emplace_back("exp_avg." + name, st.exp_avg.clone());
    out.emplace_back("exp_avg_sq." + name, st.exp_avg_sq.clone());
    if (st.max_exp_avg_sq.defined()) out.emplace_back("max_exp_avg_sq." + name, st.max_exp_avg_sq.clone());
    if (st.exp_avg_wd.defined()) out.emplace_back("exp_avg_wd." + name, st.exp_avg_wd.clone());
  }
}

template <bool Decoupled>
std::function<void()> BasicAdam<Decoupled>::read_state(StateReader& in) {
  std::vector<Options> options = this->read_options(in);
  std::vector<State> state(this->num_parameters());
  const NamedTensors params = this->named_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [name, p] = params[i];
    const Options& o = options[this->group_of(i)];
    // A parameter without "step.<name>" has not been stepped: any buffer of it is unexpected.
    if (!in.has("step." + name)) continue;
    State& st = state[i];
    st.step = in.take_int("step." + name);
    if (st.step < 1) in.fail(fmt::format("entry 'step.{}' must be >= 1, got {}", name, st.step));
    st.exp_avg = in.take("exp_avg." + name, p.shape(), p.dtype());
    st.exp_avg_sq = in.take("exp_avg_sq." + name, p.shape(), p.dtype());
    if (o.amsgrad()) st.max_exp_avg_sq = in.take("max_exp_avg_sq." + name, p.shape(), p.dtype());
    if (!Decoupled && o.weight_decay() != 0.0) st.exp_avg_wd = in.take("exp_avg_wd." + name, p.shape(), p.dtype());
  }
  return [this, options = std::move(options), state = std::move(state)]() mutable {
    this->options_ = std::move(options);
    state_ = std::move(state);
  };
}

template class BasicAdamOptions<false>;
template class BasicAdamOptions<true>;
template class BasicAdam<false>;
template class BasicAdam<true>;

}  // namespace pathgrad::optim
