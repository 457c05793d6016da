// Named columns of numbers (a metrics table held as one std::vector<double> per column) in the
// forms a run keeps them: JSON inside a resume checkpoint, and a CSV file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

namespace pathgrad::examples {

// One column of a table: its name and the vector holding it (const for reading, mutable for
// filling).
template <class Vector>
struct NamedColumn {
  const char* name;
  Vector* values;
};
using ColumnsIn = std::vector<NamedColumn<const std::vector<double>>>;
using ColumnsOut = std::vector<NamedColumn<std::vector<double>>>;
// ColumnsIn for a const table, ColumnsOut for a mutable one: lets one function list a struct's
// columns for both (template <class Self> ColumnsOf<Self> columns(Self& table)).
template <class Self>
using ColumnsOf = std::conditional_t<std::is_const_v<Self>, ColumnsIn, ColumnsOut>;

// {"<name>": [values...], ...}
nlohmann::json columns_to_json(const ColumnsIn& columns);
// Fills every column from `j`. Throws std::invalid_argument naming `table` and the column that is
// missing or whose length differs from the first column's.
void columns_from_json(const nlohmann::json& j, const ColumnsOut& columns, const std::string& table);
// A CSV file with one column per entry (header: the names), written atomically. The columns must
// have equal lengths (std::invalid_argument otherwise).
void write_columns_csv(const std::string& path, const ColumnsIn& columns);

}  // namespace pathgrad::examples
