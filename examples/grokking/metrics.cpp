// Metrics per step of the grokking run: milestones, CSV and JSON.
#include "examples/grokking/metrics.hpp"

#include "examples/common/columns.hpp"

namespace pathgrad::grokking {

namespace {
template <class Self>
examples::ColumnsOf<Self> columns(Self& m) {
  return {{"step", &m.step},
          {"train_loss", &m.train_loss},
          {"train_accuracy", &m.train_acc},
          {"val_loss", &m.val_loss},
          {"val_accuracy", &m.val_acc}};
}
}  // namespace

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

void Metrics::write_csv(const std::string& path) const { examples::write_columns_csv(path, columns(*this)); }

nlohmann::json Metrics::to_json() const { return examples::columns_to_json(columns(*this)); }

Metrics Metrics::from_json(const nlohmann::json& j) {
  Metrics m;
  examples::columns_from_json(j, columns(m), "metrics");
  return m;
}

}  // namespace pathgrad::grokking
