// Training metrics per step (loss and accuracy on the training and validation sets at θ_s), the
// grokking milestones read from them, and their CSV and JSON forms.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace pathgrad::grokking {

struct Metrics {
  // One row per evaluated step s: the model θ_s before the update of step s (the last row is the
  // final model).
  std::vector<double> step, train_loss, train_acc, val_loss, val_acc;

  void add(int64_t s, double tr_loss, double tr_acc, double v_loss, double v_acc);
  size_t size() const { return step.size(); }
  // The first step whose accuracy (train_acc or val_acc) reaches `threshold`, if any.
  static std::optional<int64_t> first_reaching(const std::vector<double>& steps, const std::vector<double>& acc,
                                               double threshold);
  std::optional<int64_t> memorisation_step() const { return first_reaching(step, train_acc, 0.99); }
  std::optional<int64_t> generalisation_step() const { return first_reaching(step, val_acc, 0.99); }

  // step,train_loss,train_accuracy,val_loss,val_accuracy — written atomically.
  void write_csv(const std::string& path) const;
  nlohmann::json to_json() const;
  // Throws std::invalid_argument naming the missing or mis-sized column.
  static Metrics from_json(const nlohmann::json& j);
};

}  // namespace pathgrad::grokking
