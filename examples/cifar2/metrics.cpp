// Per-step and per-epoch metrics of the CIFAR-2 run: CSV and JSON.
#include "examples/cifar2/metrics.hpp"

#include "examples/common/columns.hpp"

namespace pathgrad::cifar2 {

namespace {
template <class Self>
examples::ColumnsOf<Self> step_columns(Self& m) {
  return {{"step", &m.step}, {"lr", &m.lr}, {"train_loss", &m.train_loss}, {"train_accuracy", &m.train_acc}};
}
template <class Self>
examples::ColumnsOf<Self> epoch_columns(Self& m) {
  return {{"epoch", &m.epoch}, {"step", &m.epoch_step}, {"test_loss", &m.test_loss}, {"test_accuracy", &m.test_acc}};
}
}  // namespace

void Metrics::add_step(int64_t s, double step_lr, double loss, double accuracy) {
  step.push_back(static_cast<double>(s));
  lr.push_back(step_lr);
  train_loss.push_back(loss);
  train_acc.push_back(accuracy);
}

void Metrics::add_epoch(int64_t e, int64_t s, double loss, double accuracy) {
  epoch.push_back(static_cast<double>(e));
  epoch_step.push_back(static_cast<double>(s));
  test_loss.push_back(loss);
  test_acc.push_back(accuracy);
}

void Metrics::write_csv(const std::string& steps_path, const std::string& epochs_path) const {
  examples::write_columns_csv(steps_path, step_columns(*this));
  examples::write_columns_csv(epochs_path, epoch_columns(*this));
}

nlohmann::json Metrics::to_json() const {
  return {{"steps", examples::columns_to_json(step_columns(*this))},
          {"epochs", examples::columns_to_json(epoch_columns(*this))}};
}

Metrics Metrics::from_json(const nlohmann::json& j) {
  Metrics m;
  examples::columns_from_json(j.value("steps", nlohmann::json()), step_columns(m), "metrics (steps)");
  examples::columns_from_json(j.value("epochs", nlohmann::json()), epoch_columns(m), "metrics (epochs)");
  return m;
}

}  // namespace pathgrad::cifar2
