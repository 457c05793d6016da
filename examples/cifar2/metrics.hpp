// Training metrics of a CIFAR-2 run: per step the learning rate and the loss and accuracy of the
// step's (augmented) training batch at θ_s; per epoch the loss and accuracy on the test images.
// Their CSV files and their JSON form (kept in the resume checkpoint).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pathgrad::cifar2 {

struct Metrics {
  // One row per step s: the lr of its update and its batch's loss and accuracy before it.
  std::vector<double> step, lr, train_loss, train_acc;
  // One row per evaluation of the test images: after `epoch` epochs (0: the initial model), at
  // `epoch_step` (the optimizer steps taken by then).
  std::vector<double> epoch, epoch_step, test_loss, test_acc;

  void add_step(int64_t s, double step_lr, double loss, double accuracy);
  void add_epoch(int64_t e, int64_t s, double loss, double accuracy);

  // metrics.csv: step,lr,train_loss,train_accuracy; epochs.csv: epoch,step,test_loss,test_accuracy.
  void write_csv(const std::string& steps_path, const std::string& epochs_path) const;
  nlohmann::json to_json() const;
  // Throws std::invalid_argument naming the missing or mis-sized column.
  static Metrics from_json(const nlohmann::json& j);
};

}  // namespace pathgrad::cifar2
