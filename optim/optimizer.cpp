// Optimizer: parameter checks, the step loop, schedules, gradient scaling, observers, state dicts.
#include "optim/optimizer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>

#include "optim/state_reader.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::optim {

Optimizer::Optimizer(std::string name, std::vector<NamedTensors> groups)
    : name_(std::move(name)), groups_(std::move(groups)) {
  if (groups_.empty()) throw std::invalid_argument(name_ + ": no parameter groups given");
  std::set<std::string> names;
  std::set<const TensorImpl*> tensors;
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (groups_[g].empty()) throw std::invalid_argument(fmt::format("{}: parameter group {} is empty", name_, g));
    for (const auto& [name, p] : groups_[g]) {
      const std::string what = fmt::format("{}: parameter '{}'", name_, name);
      if (!p.defined()) throw std::invalid_argument(what + " is an undefined tensor");
      if (!p.requires_grad()) throw std::invalid_argument(what + " does not require grad");
      if (!p.is_leaf()) throw std::invalid_argument(what + " is not a leaf tensor");
      if (!p.is_floating_point())
        throw std::invalid_argument(what + " has dtype " + dtype_name(p.dtype()) + ", expected float32 or float64");
      if (!p.is_contiguous()) throw std::invalid_argument(what + " is not contiguous");
      if (!names.insert(name).second) throw std::invalid_argument(what + ": the name appears twice");
      if (!tensors.insert(&p.impl()).second)
        throw std::invalid_argument(what + " is the same tensor as an earlier parameter");
      group_of_.push_back(g);
    }
  }
}

NamedTensors Optimizer::named_parameters() const {
  NamedTensors all;
  for (const auto& group : groups_) all.insert(all.end(), group.begin(), group.end());
  return all;
}

void Optimizer::check_group(size_t group, const char* where) const {
  if (group >= groups_.size())
    throw std::out_of_range(
        fmt::format("{}::{}: group {} out of range ({} groups)", name(), where, group, groups_.size()));
}

const NamedTensors& Optimizer::group_parameters(size_t group) const {
  check_group(group, "group_parameters");
  return groups_[group];
}

void Optimizer::zero_grad() {
  for (const auto& group : groups_)
    for (const auto& named : group) named.second.set_grad(Tensor());
}

double Optimizer::lr(size_t group) const {
  check_group(group, "lr");
  return group_lr(group);
}

void Optimizer::set_lr(double lr, size_t group) {
  check_group(group, "set_lr");
  if (!std::isfinite(lr) || lr < 0)
    throw std::invalid_argument(fmt::format("{}::set_lr: lr must be finite and >= 0, got {}", name(), lr));
  set_group_lr(group, lr);
}

void Optimizer::set_schedule(Schedule factor) { schedule_ = std::move(factor); }

double Optimizer::schedule_factor(int64_t step) const {
  if (!schedule_) return 1.0;
  const double f = schedule_(step);
  if (!std::isfinite(f) || f < 0)
    throw std::invalid_argument(
        fmt::format("{}: the schedule returned {} at step {}; a factor must be finite and >= 0", name(), f, step));
  return f;
}

double Optimizer::scheduled_lr(size_t group) const {
  check_group(group, "scheduled_lr");
  return group_lr(group) * schedule_factor(steps_);
}

void Optimizer::scale_grads(double factor) {
  if (!std::isfinite(factor) || factor < 0)
    throw std::invalid_argument(fmt::format("{}::scale_grads: factor must be finite and >= 0, got {}", name(), factor));
  for (const auto& group : groups_)
    for (const auto& [pname, p] : group) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      if (g.is_contiguous())
        kernel::mul_scalar_(g, factor);
      else
        p.set_grad(kernel::mul_scalar(g, factor));
    }
  grad_factor_ *= factor;
}

void Optimizer::add_observer(StepObserver* observer) {
  if (observer == nullptr) throw std::invalid_argument(fmt::format("{}::add_observer: null observer", name()));
  if (std::find(observers_.begin(), observers_.end(), observer) != observers_.end())
    throw std::invalid_argument(fmt::format("{}::add_observer: observer already attached", name()));
  observers_.push_back(observer);
}

void Optimizer::remove_observer(StepObserver* observer) {
  auto it = std::find(observers_.begin(), observers_.end(), observer);
  if (it == observers_.end())
    throw std::invalid_argument(fmt::format("{}::remove_observer: observer is not attached", name()));
  observers_.erase(it);
}

void Optimizer::step() {
  const int64_t s = steps_;
  std::vector<double> lrs(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) lrs[g] = group_lr(g) * schedule_factor(s);

  // Check every gradient before changing anything.
  std::vector<Tensor> grads;
  grads.reserve(num_parameters());
  for (const auto& group : groups_)
    for (const auto& [pname, p] : group) {
      Tensor g = p.grad();
      if (g.defined() && (g.shape() != p.shape() || g.dtype() != p.dtype()))
        throw std::invalid_argument(fmt::format(
            "{}::step: the gradient of '{}' has shape {} and dtype {}, but the parameter has shape {} "
            "and dtype {}",
            name(), pname, shape_str(g.shape()), dtype_name(g.dtype()), shape_str(p.shape()), dtype_name(p.dtype())));
      grads.push_back(g.defined() ? g.contiguous() : g);
    }

  for (StepObserver* o : observers_) o->before_step(*this);
  const bool describe = !observers_.empty();
  StepDescription description;
  description.step = s;
  if (describe) description.params.resize(num_parameters());

  size_t index = 0;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (const auto& [pname, p] : groups_[g]) {
      ParamStep* d = describe ? &description.params[index] : nullptr;
      if (d) d->name = pname;
      const Tensor& grad = grads[index];
      if (grad.defined()) {
        update(ParamUpdate{g, index, p, grad, lrs[g], grad_factor_}, d);
      } else if (d) {
        d->buffer_decay = 1.0;  // skipped: the buffer stays as it is and nothing moves
      }
      ++index;
    }

  steps_ = s + 1;
  grad_factor_ = 1.0;
  for (StepObserver* o : observers_) o->after_step(*this, description);
}

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  out.emplace_back("optimizer", state_text(name()));
  out.emplace_back("step", state_int(steps_));
  size_t index = 0;
  for (const auto& group : groups_)
    for (const auto& named : group)
      out.emplace_back("param." + named.first, state_int(static_cast<int64_t>(group_of_[index++])));
  write_state(out);
  return out;
}

void Optimizer::load_state_dict(const NamedTensors& state) {
  StateReader in(state, name_ + "::load_state_dict");
  const std::string saved_by = in.take_text("optimizer");
  if (saved_by != name()) in.fail("the state dict was saved by " + saved_by + ", not " + name());
  const int64_t steps = in.take_int("step");
  if (steps < 0) in.fail(fmt::format("entry 'step' is negative ({})", steps));
  size_t index = 0;
  for (const auto& group : groups_)
    for (const auto& named : group) {
      const int64_t saved_group = in.take_int("param." + named.first);
      if (saved_group != static_cast<int64_t>(group_of_[index]))
        in.fail(fmt::format("parameter '{}' is in group {} here but in group {} in the state dict", named.first,
                            group_of_[index], saved_group));
      ++index;
    }
  const std::function<void()> install = read_state(in);
  in.check_all_taken();
  install();
  steps_ = steps;
}

}  // namespace pathgrad::optim
