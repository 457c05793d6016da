// CSV cells, quoting and tables.
#include "explaind/report/csv.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "tensor/atomic_file.hpp"

namespace pathgrad::explaind::report {

std::string CsvCell::encoded() const {
  const bool needs_quotes = text_.find_first_of(",\"\r\n") != std::string::npos ||
                            (!text_.empty() && (text_.front() == ' ' || text_.back() == ' '));
  if (!needs_quotes) return text_;
  std::string out = "\"";
  for (const char c : text_) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

namespace {

std::string encode_line(const std::vector<CsvCell>& cells) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) line += ',';
    line += cells[i].encoded();
  }
  return line;
}

}  // namespace

CsvTable::CsvTable(std::vector<std::string> header) : header_(std::move(header)) {
  if (header_.empty()) throw std::invalid_argument("CsvTable: the header has no columns");
}

CsvTable CsvTable::from_columns(const std::vector<std::pair<std::string, std::vector<double>>>& columns) {
  if (columns.empty()) throw std::invalid_argument("CsvTable::from_columns: no columns");
  std::vector<std::string> header;
  for (const auto& [name, values] : columns) {
    if (values.size() != columns.front().second.size())
      throw std::invalid_argument(
          fmt::format("CsvTable::from_columns: column '{}' has {} values but column '{}' has {}", name, values.size(),
                      columns.front().first, columns.front().second.size()));
    header.push_back(name);
  }
  CsvTable table(std::move(header));
  for (std::size_t r = 0; r < columns.front().second.size(); ++r) {
    std::vector<CsvCell> row;
    for (const auto& column : columns) row.emplace_back(column.second[r]);
    table.add_row(std::move(row));
  }
  return table;
}

CsvTable& CsvTable::add_row(std::vector<CsvCell> row) {
  if (row.size() != header_.size())
    throw std::invalid_argument(fmt::format("CsvTable::add_row: row {} has {} cells but the header has {} columns",
                                            rows_.size(), row.size(), header_.size()));
  rows_.push_back(encode_line(row));
  return *this;
}

std::string CsvTable::str() const {
  std::string out = encode_line(std::vector<CsvCell>(header_.begin(), header_.end())) + '\n';
  for (const auto& line : rows_) out += line + '\n';
  return out;
}

void CsvTable::write(const std::string& path) const { write_file_atomically(path, str()); }

}  // namespace pathgrad::explaind::report
