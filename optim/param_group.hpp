// Parameter groups: named parameters together with the options of the optimizer that trains them,
// and GroupedOptimizer, the part every optimizer shares that keeps one options object per group
// (its lr, its place in the state dict).
//
// An options type (SGDOptions, AdamOptions, AdamWOptions) provides lr() / lr(double),
// validate() (throws std::invalid_argument naming the bad value), and
// for_each_field(self, f), calling f(name, member) for every hyperparameter in a fixed order.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "optim/optimizer.hpp"
#include "optim/state_reader.hpp"

namespace pathgrad::optim {

template <class Options>
struct ParamGroup {
  NamedTensors params;
  Options options;  // lr, weight_decay and the optimizer's own hyperparameters
};

template <class Options>
class GroupedOptimizer : public Optimizer {
 public:
  // The options of a group (lr is the base learning rate, see Optimizer::scheduled_lr).
  const Options& options(size_t group = 0) const { return options_.at(group); }

 protected:
  GroupedOptimizer(std::string name, std::vector<ParamGroup<Options>> groups)
      : Optimizer(std::move(name), params_of(groups)) {
    for (auto& group : groups) {
      group.options.validate();
      options_.push_back(std::move(group.options));
    }
  }

  double group_lr(size_t group) const override { return options_[group].lr(); }
  void set_group_lr(size_t group, double lr) override { options_[group].lr(lr); }

  // Hyperparameters as "group.<g>.<field>" entries.
  void write_options(NamedTensors& out) const {
    for (size_t g = 0; g < options_.size(); ++g)
      Options::for_each_field(options_[g], [&](const char* field, const auto& value) {
        out.emplace_back(key(g, field), state_double(static_cast<double>(value)));
      });
  }

  // The options saved by write_options(), checked.
  std::vector<Options> read_options(StateReader& in) const {
    std::vector<Options> result = options_;
    for (size_t g = 0; g < result.size(); ++g) {
      Options::for_each_field(result[g], [&](const char* field, auto& value) {
        using T = std::remove_reference_t<decltype(value)>;
        value = static_cast<T>(in.take_double(key(g, field)));
      });
      result[g].validate();
    }
    return result;
  }

  std::vector<Options> options_;

 private:
  static std::vector<NamedTensors> params_of(const std::vector<ParamGroup<Options>>& groups) {
    std::vector<NamedTensors> params;
    for (const auto& group : groups) params.push_back(group.params);
    return params;
  }
  static std::string key(size_t group, const char* field) { return "group." + std::to_string(group) + "." + field; }
};

}  // namespace pathgrad::optim
