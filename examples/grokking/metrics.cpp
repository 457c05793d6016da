// Metrics per step of the grokking run: milestones, CSV and JSON.
#include "examples/grokking/metrics.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "explaind/report/csv.hpp"

namespace pathgrad::grokking {

namespace {
const char* const kColumns[] = {"step", "train_loss", "train_accuracy", "val_loss", "val_accuracy"};
}

void Metrics::add(int64_t s, double tr_loss, double tr_acc, double v_loss, double v_acc) {
  step.push_back(static_cast<double>(s));
  train_loss.push_back(tr_loss);
  train_acc.push_back(tr_acc);
  val_loss.push_back(v_loss);
  val_acc.push_back(v_acc);
}

std::optional<int64_t> Metrics::first_reaching(const std::vector<double>& steps, const std::vector<double>& acc,
                                               double threshold) {
  for (size_t i = 0; i < acc.size(); ++i)
    if (acc[i] >= threshold) return static_cast<int64_t>(steps[i]);
  return std::nullopt;
}

void Metrics::write_csv(const std::string& path) const {
  report::CsvTable::from_columns({{kColumns[0], step},
                                  {kColumns[1], train_loss},
                                  {kColumns[2], train_acc},
                                  {kColumns[3], val_loss},
                                  {kColumns[4], val_acc}})
      .write(path);
}

nlohmann::json Metrics::to_json() const {
  return {{kColumns[0], step}, {kColumns[1], train_loss}, {kColumns[2], train_acc}, {kColumns[3], val_loss},
          {kColumns[4], val_acc}};
}

Metrics Metrics::from_json(const nlohmann::json& j) {
  Metrics m;
  std::vector<double>* columns[] = {&m.step, &m.train_loss, &m.train_acc, &m.val_loss, &m.val_acc};
  for (size_t c = 0; c < 5; ++c) {
    if (!j.contains(kColumns[c]) || !j[kColumns[c]].is_array())
      throw std::invalid_argument(fmt::format("metrics: column '{}' is missing", kColumns[c]));
    *columns[c] = j[kColumns[c]].get<std::vector<double>>();
    if (columns[c]->size() != m.step.size())
      throw std::invalid_argument(fmt::format("metrics: column '{}' has {} rows, 'step' has {}", kColumns[c],
                                              columns[c]->size(), m.step.size()));
  }
  return m;
}

}  // namespace pathgrad::grokking
