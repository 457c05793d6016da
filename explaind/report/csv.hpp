// CSV tables (RFC 4180): a header and rows of numbers or text, written atomically. Used for
// metrics per step and for the data behind every curve, so that a run can be re-plotted elsewhere.
#pragma once

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "explaind/report/number_format.hpp"

namespace pathgrad::explaind::report {

// One CSV cell. Numbers are written exactly: integers as integers, floating-point values as the
// shortest text that reads back to the same value of their type ("nan", "inf", "-inf" when not
// finite).
// Text is quoted when it needs to be (comma, double quote, line break, or leading/trailing space).
class CsvCell {
 public:
  CsvCell(std::string text) : text_(std::move(text)) {}
  CsvCell(std::string_view text) : text_(text) {}
  CsvCell(const char* text) : text_(text) {}
  template <class T>
  requires std::is_arithmetic_v<T> &&(!std::same_as<T, bool>)&&(!std::same_as<T, char>)CsvCell(T value)
      : text_(number_text(value)) {}

  // The cell as it appears in the file (quoted and escaped when needed).
  std::string encoded() const;

 private:
  template <class T>
  static std::string number_text(T value) {
    if constexpr (std::same_as<T, float>)
      return format_number(value);
    else if constexpr (std::is_floating_point_v<T>)
      return format_number(static_cast<double>(value));
    else
      return std::to_string(value);
  }
  std::string text_;
};

// A table with a fixed header; every row must have one cell per header column.
class CsvTable {
 public:
  // Throws std::invalid_argument if the header is empty.
  explicit CsvTable(std::vector<std::string> header);
  // A table of equal-length numeric columns (e.g. {"step", steps}, {"train_loss", losses}).
  // Throws std::invalid_argument if there are no columns or their lengths differ.
  static CsvTable from_columns(const std::vector<std::pair<std::string, std::vector<double>>>& columns);

  // Appends a row. Throws std::invalid_argument if its length differs from the header's.
  CsvTable& add_row(std::vector<CsvCell> row);

  const std::vector<std::string>& header() const { return header_; }
  std::size_t num_rows() const { return rows_.size(); }
  // The whole file: header line, then one line per row, each ended by "\n".
  std::string str() const;
  // Writes str() to `path` atomically (creating parent directories).
  void write(const std::string& path) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::string> rows_;  // encoded lines, without the line end
};

}  // namespace pathgrad::explaind::report
