// SGD with momentum, dampening, Nesterov momentum and coupled weight decay: PyTorch 1.13's
// torch.optim.SGD (single-tensor path), and the linear description of its step.
//
// Update of one parameter (lr η of the step, momentum μ, dampening τ, weight decay λ):
//   d = g + λθ;  buf = d on the parameter's first step, else μ·buf + (1−τ)·d;
//   u = d + μ·buf (nesterov) or buf (momentum) or d (no momentum);  θ ← θ − η·u.
// State dict buffers: "momentum_buffer.<name>" (PyTorch's buffer) and, when momentum and weight
// decay are both on, "momentum_buffer_wd.<name>": the part of the buffer that came from λθ, kept
// so that the description's non_data is exact. Either is absent until the parameter's first step.
#pragma once

#include <functional>
#include <vector>

#include "nn/options.hpp"
#include "optim/param_group.hpp"

namespace pathgrad::optim {

class SGDOptions {
 public:
  explicit SGDOptions(double lr) : lr_(lr) {}

  // Throws std::invalid_argument unless lr, momentum and weight_decay are finite and >= 0,
  // dampening is in [0, 1], and nesterov comes with momentum > 0 and dampening 0.
  void validate() const;

  template <class Self, class F>
  static void for_each_field(Self& self, F&& f) {
    f("lr", self.lr_);
    f("momentum", self.momentum_);
    f("dampening", self.dampening_);
    f("weight_decay", self.weight_decay_);
    f("nesterov", self.nesterov_);
  }

  PATHGRAD_ARG(double, lr);
  PATHGRAD_ARG(double, momentum) = 0.0;
  PATHGRAD_ARG(double, dampening) = 0.0;
  PATHGRAD_ARG(double, weight_decay) = 0.0;
  PATHGRAD_ARG(bool, nesterov) = false;
};

class SGD : public GroupedOptimizer<SGDOptions> {
 public:
  SGD(NamedTensors params, SGDOptions options);
  explicit SGD(std::vector<ParamGroup<SGDOptions>> groups);

 protected:
  void update(const ParamUpdate& p, ParamStep* description) override;
  void write_state(NamedTensors& out) const override;
  std::function<void()> read_state(StateReader& in) override;

 private:
  struct State {
    Tensor momentum;     // PyTorch's momentum_buffer; undefined before the first step
    Tensor momentum_wd;  // the weight-decay part of it (momentum and weight decay both on)
  };
  std::vector<State> state_;
};

}  // namespace pathgrad::optim
