// The optimizer base: parameter groups, the step loop, the learning-rate schedule, gradient
// scaling (what clip_grad_norm_ records), step observers and state dicts. An optimizer (SGD,
// Adam, AdamW) supplies only its update rule, which also describes each step in the linear form
// of step_description.hpp when someone is watching.
//
// Contracts:
// - Parameters are leaf tensors that require grad, float32 or float64, contiguous, each with a
//   unique name and in exactly one group. step() updates them in place: handles keep identity.
// - step() reads each parameter's .grad (same shape and dtype as the parameter); a parameter
//   whose .grad is undefined is skipped, as in PyTorch (no update, no weight decay, its state
//   does not advance; its description keeps the buffer: buffer_decay 1, everything else 0).
//   Every check happens before anything changes.
// - The learning rate of step s (s = steps_taken() when step() runs) is lr(group) × factor(s),
//   factor being the schedule (1 when none is set); a factor that is not finite or is negative
//   throws.
// - Observers are told about every step; with none attached no description is built. Attaching
//   one never changes the trajectory.
// - state_dict() holds everything a resumed run needs to continue bit for bit: the step count,
//   every group's hyperparameters (lr is the base lr), and every per-parameter buffer, keyed
//   "<buffer>.<parameter name>". The schedule is a function and is not saved: set it again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "optim/step_description.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::optim {

class Optimizer;
class StateReader;

// Watches the steps of the optimizers it is attached to (Optimizer::add_observer).
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  // Called by step() once its inputs are checked, before any parameter changes: the parameters
  // hold θ_s and their .grad the gradient the step uses, i.e. g_s × optimizer.grad_factor().
  virtual void before_step(const Optimizer& /*optimizer*/) {}
  // Called at the end of step(): the parameters hold θ_{s+1}; `step` describes θ_{s+1} − θ_s in
  // terms of the unscaled gradient g_s. optimizer.steps_taken() is already s + 1.
  virtual void after_step(const Optimizer& /*optimizer*/, const StepDescription& /*step*/) {}
};

class Optimizer {
 public:
  // The learning-rate factor of step s (see schedule.hpp).
  using Schedule = std::function<double(int64_t step)>;

  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // "SGD", "Adam", "AdamW": the prefix of every error message.
  const std::string& name() const { return name_; }

  // ---- parameters ----
  // Every group's parameters, group after group, in order.
  NamedTensors named_parameters() const;
  size_t num_groups() const { return groups_.size(); }
  const NamedTensors& group_parameters(size_t group) const;
  // Sets every parameter's .grad to undefined (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  // ---- stepping ----
  // Applies one update to every parameter that has a .grad.
  void step();
  // The number of step() calls so far (the s of the next step).
  int64_t steps_taken() const { return steps_; }

  // ---- learning rate ----
  // The base learning rate of a group.
  double lr(size_t group = 0) const;
  // Sets a group's base learning rate; throws unless finite and >= 0.
  void set_lr(double lr, size_t group = 0);
  // Sets the schedule of every group; an empty function means a constant factor 1.
  void set_schedule(Schedule factor);
  // The learning rate the next step will use: lr(group) × factor(steps_taken()).
  double scheduled_lr(size_t group = 0) const;

  // ---- gradient scaling ----
  // Multiplies every defined .grad by `factor` (finite, >= 0) in place, and remembers it so that
  // the next step's description is in terms of the gradient before scaling (clip_grad_norm_
  // calls this). Factors of repeated calls multiply; the next step() resets the factor to 1.
  void scale_grads(double factor);
  // The product of the scale_grads() factors since the last step (1 when none).
  double grad_factor() const { return grad_factor_; }

  // ---- observers ----
  // Attaches an observer (not owned; it must outlive its attachment). Throws on null or on an
  // observer already attached.
  void add_observer(StepObserver* observer);
  // Detaches an observer; throws if it is not attached.
  void remove_observer(StepObserver* observer);

  // ---- state ----
  // A snapshot (fresh copies) of the optimizer's state. Entries: "optimizer" (its name, as uint8
  // text), "step" (int64), "param.<name>" (the parameter's group, int64),
  // "group.<g>.<hyperparameter>" (float64; booleans as 0/1) and the optimizer's buffers
  // "<buffer>.<name>" with the parameter's shape and dtype (see each optimizer).
  NamedTensors state_dict() const;
  // Restores a state_dict() of an optimizer of the same kind over parameters with the same
  // names, groups, shapes and dtypes; hyperparameters are taken from it (as PyTorch does).
  // Throws std::invalid_argument naming the first missing, unexpected or mismatched entry, and
  // changes nothing in that case.
  void load_state_dict(const NamedTensors& state);

 protected:
  // One parameter's share of a step, as step() hands it to update().
  struct ParamUpdate {
    size_t group;         // the parameter's group
    size_t index;         // its position in named_parameters()
    const Tensor& param;  // contiguous; updated in place
    const Tensor& grad;   // contiguous, same shape and dtype as param; already scaled
    double lr;            // the scheduled learning rate of this step
    double grad_factor;   // the factor the gradient was scaled by (see scale_grads)
  };

  // Checks and takes the parameters, one NamedTensors per group.
  Optimizer(std::string name, std::vector<NamedTensors> groups);

  // Updates one parameter in place. When `description` is not null, also fills it in (its name is
  // already set) so that it describes exactly the change made.
  virtual void update(const ParamUpdate& p, ParamStep* description) = 0;
  virtual double group_lr(size_t group) const = 0;
  virtual void set_group_lr(size_t group, double lr) = 0;
  // Appends hyperparameters and buffers to a state dict.
  virtual void write_state(NamedTensors& out) const = 0;
  // Reads and checks hyperparameters and buffers without changing anything; returns the function
  // that installs them once every other check passed.
  virtual std::function<void()> read_state(StateReader& in) = 0;

  size_t num_parameters() const { return group_of_.size(); }
  // The group of the parameter at position `index` of named_parameters().
  size_t group_of(size_t index) const { return group_of_[index]; }

 private:
  double schedule_factor(int64_t step) const;
  void check_group(size_t group, const char* where) const;

  std::string name_;
  std::vector<NamedTensors> groups_;
  std::vector<size_t> group_of_;
  int64_t steps_ = 0;
  Schedule schedule_;
  double grad_factor_ = 1.0;
  std::vector<StepObserver*> observers_;
};

}  // namespace pathgrad::optim
