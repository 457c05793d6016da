// SGD: PyTorch 1.13's update rule on raw pointers, its step description, its state dict.
#include "optim/sgd.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <utility>

#include "optim/static_flags.hpp"

namespace pathgrad::optim {

namespace {

void require(bool ok, const char* what, double value) {
  if (!ok) throw std::invalid_argument(fmt::format("SGDOptions: {}, got {}", what, value));
}

// The update of one parameter of n elements, compiled per combination of flags: Momentum (buf
// is PyTorch's buffer), Decay (weight decay; with Momentum, buf_wd is the buffer's part from λθ),
// First (the parameter's first step: the buffers start at d, undampened), NonData (a description
// wants the weight-decay part of the change in non_data).
template <class T, bool Momentum, bool Decay, bool Nesterov, bool First, bool NonData>
void sgd_kernel(const SGDOptions& o, double lr, int64_t n, T* theta, const T* grad, T* buf, T* buf_wd, T* non_data) {
  const T wd = static_cast<T>(o.weight_decay()), mu = static_cast<T>(o.momentum());
  const T keep = static_cast<T>(1.0 - o.dampening()), step = static_cast<T>(-lr);
  for (int64_t i = 0; i < n; ++i) {
    const T th = theta[i];
    T u = grad[i];  // d = g + λθ
    T u_wd = T(0);  // the part of u that came from λθ
    if constexpr (Decay) {
      u = u + wd * th;
      u_wd = wd * th;
    }
    if constexpr (Momentum) {
      const T b = First ? u : buf[i] * mu + keep * u;
      buf[i] = b;
      T b_wd = T(0);
      if constexpr (Decay) {
        b_wd = First ? u_wd : buf_wd[i] * mu + keep * u_wd;
        buf_wd[i] = b_wd;
      }
      if constexpr (Nesterov) {
        u = u + mu * b;
        u_wd = u_wd + mu * b_wd;
      } else {
        u = b;
        u_wd = b_wd;
      }
    }
    if constexpr (NonData) non_data[i] = step * u_wd;
    theta[i] = th + step * u;
  }
}

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

void SGDOptions::validate() const {
  require(std::isfinite(lr_) && lr_ >= 0, "lr must be finite and >= 0", lr_);
  require(std::isfinite(momentum_) && momentum_ >= 0, "momentum must be finite and >= 0", momentum_);
  require(dampening_ >= 0 && dampening_ <= 1, "dampening must be in [0, 1]", dampening_);
  require(std::isfinite(weight_decay_) && weight_decay_ >= 0, "weight_decay must be finite and >= 0", weight_decay_);
  if (nesterov_ && (momentum_ <= 0 || dampening_ != 0))
    throw std::invalid_argument(
        fmt::format("SGDOptions: nesterov requires momentum > 0 and dampening 0, got momentum {} and dampening {}",
                    momentum_, dampening_));
}

SGD::SGD(NamedTensors params, SGDOptions options)
    : SGD(std::vector<ParamGroup<SGDOptions>>{{std::move(params), options}}) {}

SGD::SGD(std::vector<ParamGroup<SGDOptions>> groups)
    : GroupedOptimizer("SGD", std::move(groups)), state_(num_parameters()) {}

void SGD::update(const ParamUpdate& p, ParamStep* description) {
  const SGDOptions& o = options_[p.group];
  State& st = state_[p.index];
  const bool momentum = o.momentum() != 0.0, decay = o.weight_decay() != 0.0;
  const bool first = !st.momentum.defined();
  if (momentum && first) {
    st.momentum = Tensor::zeros(p.param.shape(), p.param.dtype());
    if (decay) st.momentum_wd = Tensor::zeros(p.param.shape(), p.param.dtype());
  }
  const Tensor buf = momentum ? st.momentum : Tensor();
  const Tensor buf_wd = momentum && decay ? st.momentum_wd : Tensor();

  Tensor non_data;
  if (description) {
    const double c = p.grad_factor, eta = p.lr;
    if (momentum) {
      description->buffer_decay = first ? 0.0 : o.momentum();
      description->grad_scale = first ? c : (1.0 - o.dampening()) * c;
      description->buffer_coef.scale = o.nesterov() ? -eta * o.momentum() : -eta;
      description->direct_coef.scale = o.nesterov() ? -eta * c : 0.0;
    } else {
      description->direct_coef.scale = -eta * c;
    }
    if (decay) non_data = description->non_data = Tensor::zeros(p.param.shape(), p.param.dtype());
  }

  dispatch_float(p.param.dtype(), "SGD::step", [&](auto tag) {
    using T = decltype(tag);
    with_static_flags(
        [&](auto momentum_on, auto decay_on, auto nesterov, auto first_step, auto describe_decay) {
          sgd_kernel<T, momentum_on, decay_on, nesterov, first_step, describe_decay>(
              o, p.lr, p.param.numel(), ptr<T>(p.param), ptr<T>(p.grad), ptr<T>(buf), ptr<T>(buf_wd), ptr<T>(non_data));
        },
        momentum, decay, momentum && o.nesterov(), first, non_data.defined());
  });
}

void SGD::write_state(NamedTensors& out) const {
  write_options(out);
  const NamedTensors params = named_parameters();
  for (size_t k = 0; k < params.size(); ++k) {
    const std::string& name = params[k].first;
    if (state_[k].momentum.defined()) out.emplace_back("momentum_buffer." + name, state_[k].momentum.clone());
    if (state_[k].momentum_wd.defined()) out.emplace_back("momentum_buffer_wd." + name, state_[k].momentum_wd.clone());
  }
}

std::function<void()> SGD::read_state(StateReader& in) {
  std::vector<SGDOptions> options = read_options(in);
  std::vector<State> state(num_parameters());
  const NamedTensors params = named_parameters();
  for (size_t k = 0; k < params.size(); ++k) {
    const auto& [name, p] = params[k];
    const SGDOptions& o = options[group_of(k)];
    // Without momentum there is no buffer; one found anyway is reported as unexpected.
    if (o.momentum() == 0.0 || !in.has("momentum_buffer." + name)) continue;
    state[k].momentum = in.take("momentum_buffer." + name, p.shape(), p.dtype());
    if (o.weight_decay() != 0.0) state[k].momentum_wd = in.take("momentum_buffer_wd." + name, p.shape(), p.dtype());
  }
  return [this, options = std::move(options), state = std::move(state)]() mutable {
    options_ = std::move(options);
    state_ = std::move(state);
  };
}

}  // namespace pathgrad::optim
