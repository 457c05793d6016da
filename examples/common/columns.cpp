// JSON and CSV forms of named numeric columns.
#include "examples/common/columns.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "explaind/report/csv.hpp"

namespace pathgrad::examples {

nlohmann::json columns_to_json(const ColumnsIn& columns) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& c : columns) j[c.name] = *c.values;
  return j;
}

void columns_from_json(const nlohmann::json& j, const ColumnsOut& columns, const std::string& table) {
  for (const auto& c : columns) {
    if (!j.contains(c.name) || !j[c.name].is_array())
      throw std::invalid_argument(fmt::format("{}: column '{}' is missing", table, c.name));
    *c.values = j[c.name].get<std::vector<double>>();
    if (c.values->size() != columns.front().values->size())
      throw std::invalid_argument(fmt::format("{}: column '{}' has {} rows, '{}' has {}", table, c.name,
                                              c.values->size(), columns.front().name, columns.front().values->size()));
  }
}

void write_columns_csv(const std::string& path, const ColumnsIn& columns) {
  std::vector<std::pair<std::string, std::vector<double>>> table;
  for (const auto& c : columns) table.emplace_back(c.name, *c.values);
  explaind::report::CsvTable::from_columns(table).write(path);
}

}  // namespace pathgrad::examples
