// Adam (coupled L2 weight decay) and AdamW (decoupled weight decay), both with AMSGrad and bias
// correction: PyTorch 1.13's torch.optim.Adam / AdamW (single-tensor path), and the linear
// description of their step. The two differ only in where weight decay enters, so one template
// implements both: Adam = BasicAdam<false>, AdamW = BasicAdam<true>.
//
// Update of one parameter (lr η of the step, k = the parameter's step count, from 1):
//   AdamW only: θ ← θ·(1 − ηλ);        Adam only: g ← g + λθ
//   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  AMSGrad: v_max ← max(v_max, v), used for v below
//   denom = √v / √(1−β2^k) + ε;  θ ← θ − (η/(1−β1^k))·m / denom
// Description: buffer m (decay β1, grad_scale (1−β1)·c), buffer_coef = −(η/(1−β1^k)) ⊙ 1/denom
// (denom frozen at this step), direct 0; non_data is the decay: AdamW's θ(1−ηλ) − θ, Adam's
// −(η/(1−β1^k))·m_wd/denom, where m_wd is the part of m that came from λθ.
// State dict buffers: "step.<name>" (int64), "exp_avg.<name>", "exp_avg_sq.<name>",
// "max_exp_avg_sq.<name>" (AMSGrad), "exp_avg_wd.<name>" (Adam with weight decay); all absent
// until the parameter's first step.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "nn/options.hpp"
#include "optim/param_group.hpp"

namespace pathgrad::optim {

// Adam's options (Decoupled = false) or AdamW's (true), with PyTorch's defaults: lr 1e-3,
// betas (0.9, 0.999), eps 1e-8, weight_decay 0 for Adam and 1e-2 for AdamW, amsgrad false.
template <bool Decoupled>
class BasicAdamOptions {
 public:
  explicit BasicAdamOptions(double lr = 1e-3) : lr_(lr) {}

  // β1 and β2 together, as PyTorch's betas=(β1, β2).
  BasicAdamOptions& betas(double beta1, double beta2) {
    beta1_ = beta1;
    beta2_ = beta2;
    return *this;
  }
  std::pair<double, double> betas() const { return {beta1_, beta2_}; }
  double beta1() const { return beta1_; }
  double beta2() const { return beta2_; }

  // Throws std::invalid_argument unless lr, eps and weight_decay are finite and >= 0 and both
  // betas are in [0, 1).
  void validate() const;

  template <class Self, class F>
  static void for_each_field(Self& self, F&& f) {
    f("lr", self.lr_);
    f("beta1", self.beta1_);
    f("beta2", self.beta2_);
    f("eps", self.eps_);
    f("weight_decay", self.weight_decay_);
    f("amsgrad", self.amsgrad_);
  }

  PATHGRAD_ARG(double, lr);
  PATHGRAD_ARG(double, eps) = 1e-8;
  PATHGRAD_ARG(double, weight_decay) = Decoupled ? 1e-2 : 0.0;
  PATHGRAD_ARG(bool, amsgrad) = false;

 private:
  double beta1_ = 0.9;
  double beta2_ = 0.999;
};

using AdamOptions = BasicAdamOptions<false>;
using AdamWOptions = BasicAdamOptions<true>;

template <bool Decoupled>
class BasicAdam : public GroupedOptimizer<BasicAdamOptions<Decoupled>> {
 public:
  using Options = BasicAdamOptions<Decoupled>;
  explicit BasicAdam(NamedTensors params, Options options = Options());
  explicit BasicAdam(std::vector<ParamGroup<Options>> groups);

 protected:
  using ParamUpdate = Optimizer::ParamUpdate;
  void update(const ParamUpdate& p, ParamStep* description) override;
  void write_state(NamedTensors& out) const override;
  std::function<void()> read_state(StateReader& in) override;

 private:
  struct State {
    int64_t step = 0;  // k of the last step; 0 before the first
    Tensor exp_avg, exp_avg_sq;
    Tensor max_exp_avg_sq;  // AMSGrad only
    Tensor exp_avg_wd;      // Adam with weight decay only: the part of exp_avg from λθ
  };
  std::vector<State> state_;
};

using Adam = BasicAdam<false>;
using AdamW = BasicAdam<true>;
extern template class BasicAdamOptions<false>;
extern template class BasicAdamOptions<true>;
extern template class BasicAdam<false>;
extern template class BasicAdam<true>;

}  // namespace pathgrad::optim
