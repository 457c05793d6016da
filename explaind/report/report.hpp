// The report of one run: a title, then headings, paragraphs, tables, figures and code blocks in
// order, written as report.md (Markdown) and report.html (self-contained HTML with inline CSS,
// images referenced relatively) into the run's directory, so a person can read the run without
// running anything.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace pathgrad::explaind::report {

// Usage:
//   Report r("Grokking: modular addition, p = 97");
//   r.section("Run").code("./grokking --steps 5000 --out run/").key_values_from_json(summary_json);
//   r.section("Training").figure("loss.png", "Train and test loss; memorisation at step 420.")
//    .paragraph("Test accuracy jumps long after the training loss has converged.");
//   r.write("run/");  // run/report.md, run/report.html
// All text is plain text: characters that mean something in Markdown or HTML are escaped.
class Report {
 public:
  explicit Report(std::string title);

  Report& section(std::string heading);     // a level-2 heading
  Report& subsection(std::string heading);  // a level-3 heading
  // A paragraph; line breaks inside it are kept as soft breaks.
  Report& paragraph(std::string text);
  // A two-column table of names and values.
  Report& key_values(std::vector<std::pair<std::string, std::string>> rows);
  // The same from a JSON object: nested objects are flattened to dotted names ("optim.lr"),
  // strings are shown without quotes, other values (numbers, arrays, ...) as compact JSON.
  // Throws std::invalid_argument if `object` is not a JSON object.
  Report& key_values_from_json(const nlohmann::json& object);
  // A table with a header. Columns whose cells all read as numbers are right-aligned.
  // Throws std::invalid_argument if the header is empty or a row's length differs from it.
  Report& table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows);
  // An image at `path`, relative to the report's directory, with a numbered caption.
  // Throws std::invalid_argument if the path is empty or absolute.
  Report& figure(std::string path, std::string caption);
  // A preformatted block, e.g. the command that produced the run.
  Report& code(std::string text);

  std::string markdown() const;
  std::string html() const;
  // Writes `directory`/report.md and `directory`/report.html atomically (creating the directory).
  // Throws std::runtime_error, before writing anything, if a figure's file does not exist
  // in `directory`.
  void write(const std::string& directory) const;

 private:
  struct HeadingBlock {
    int level;
    std::string text;
  };
  struct ParagraphBlock {
    std::string text;
  };
  struct KeyValueBlock {
    std::vector<std::pair<std::string, std::string>> rows;
  };
  struct TableBlock {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
  };
  struct FigureBlock {
    std::string path, caption;
  };
  struct CodeBlock {
    std::string text;
  };
  using Block = std::variant<HeadingBlock, ParagraphBlock, KeyValueBlock, TableBlock, FigureBlock, CodeBlock>;

  // True when every non-empty cell of column `c` reads as a number (and one is non-empty).
  static bool numeric_column(const TableBlock& table, std::size_t c);

  std::string title_;
  std::vector<Block> blocks_;
};

}  // namespace pathgrad::explaind::report
