// The run report: building its blocks and rendering them as Markdown and as self-contained HTML.
#include "explaind/report/report.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tensor/atomic_file.hpp"

namespace pathgrad::explaind::report {

namespace {

constexpr const char* kStyle =
    R"(body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.5}
h1{border-bottom:2px solid #ddd;padding-bottom:.3em}
h2{border-bottom:1px solid #eee;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:.3em .7em;text-align:left;vertical-align:top}
thead th{background:#f3f3f3}
table.kv th{background:#f7f7f7;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.5em 0;text-align:center}
figure img{max-width:100%;height:auto}
figcaption{color:#555;font-size:.95em;margin-top:.4em}
pre{background:#f6f8fa;padding:.8em 1em;overflow-x:auto;border-radius:4px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
)";

std::string html_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Plain text as Markdown that renders as the same text: punctuation with a meaning is
// backslash-escaped and, for text that starts lines (`at_line_starts`), so is what would start a
// list, heading or code block there.
std::string markdown_escape(std::string_view text, bool at_line_starts = true) {
  std::string out;
  bool line_start = at_line_starts, leading_digits = false;
  for (const char c : text) {
    if (c == '\n') {
      out += '\n';
      line_start = at_line_starts;
      continue;
    }
    if (line_start && (c == ' ' || c == '\t')) continue;  // indentation would make a code block
    const bool at_start = line_start;
    line_start = false;
    if ((at_start && std::strchr("-+=~", c) != nullptr) || (leading_digits && (c == '.' || c == ')')) ||
        std::strchr("\\`*_[]<>|#&!", c) != nullptr)
      out += '\\';
    leading_digits = (at_start || leading_digits) && c >= '0' && c <= '9';
    out += c;
  }
  return out;
}

// One line of text (line breaks become spaces), e.g. for headings and table cells.
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

// A relative path as a URL path: bytes other than unreserved characters and '/' percent-encoded.
std::string url_path(std::string_view path) {
  std::string out;
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || std::strchr("-._~/", c) != nullptr)
      out += c;
    else
      out += fmt::format("%{:02X}", u);
  }
  return out;
}

std::string markdown_row(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const auto& cell : cells) out += fmt::format(" {} |", markdown_escape(one_line(cell), false));
  return out + "\n";
}

void flatten_json(const nlohmann::json& value, const std::string& name,
                  std::vector<std::pair<std::string, std::string>>& rows) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [key, child] : value.items()) flatten_json(child, name.empty() ? key : name + "." + key, rows);
  } else {
    rows.emplace_back(name, value.is_string() ? value.get<std::string>() : value.dump());
  }
}

}  // namespace

Report::Report(std::string title) : title_(std::move(title)) {}

Report& Report::section(std::string heading) {
  blocks_.push_back(HeadingBlock{2, std::move(heading)});
  return *this;
}

Report& Report::subsection(std::string heading) {
  blocks_.push_back(HeadingBlock{3, std::move(heading)});
  return *this;
}

Report& Report::paragraph(std::string text) {
  blocks_.push_back(ParagraphBlock{std::move(text)});
  return *this;
}

Report& Report::key_values(std::vector<std::pair<std::string, std::string>> rows) {
  blocks_.push_back(KeyValueBlock{std::move(rows)});
  return *this;
}

Report& Report::key_values_from_json(const nlohmann::json& object) {
  if (!object.is_object())
    throw std::invalid_argument(
        fmt::format("Report::key_values_from_json: expected a JSON object, got {}", object.type_name()));
  std::vector<std::pair<std::string, std::string>> rows;
  flatten_json(object, "", rows);
  return key_values(std::move(rows));
}

Report& Report::table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows) {
  if (header.empty()) throw std::invalid_argument("Report::table: the header has no columns");
  for (std::size_t r = 0; r < rows.size(); ++r)
    if (rows[r].size() != header.size())
      throw std::invalid_argument(fmt::format("Report::table: row {} has {} cells but the header has {} columns", r,
                                              rows[r].size(), header.size()));
  blocks_.push_back(TableBlock{std::move(header), std::move(rows)});
  return *this;
}

Report& Report::figure(std::string path, std::string caption) {
  if (path.empty() || std::filesystem::path(path).is_absolute())
    throw std::invalid_argument(fmt::format("Report::figure: '{}' must be a path relative to the report", path));
  blocks_.push_back(FigureBlock{std::move(path), std::move(caption)});
  return *this;
}

Report& Report::code(std::string text) {
  blocks_.push_back(CodeBlock{std::move(text)});
  return *this;
}

bool Report::numeric_column(const TableBlock& table, std::size_t c) {
  bool any = false;
  for (const auto& row : table.rows) {
    const std::string& cell = row[c];
    if (cell.empty()) continue;
    double value = 0;
    const auto result = std::from_chars(cell.data(), cell.data() + cell.size(), value);
    if (result.ec != std::errc() || result.ptr != cell.data() + cell.size()) return false;
    any = true;
  }
  return any;
}

std::string Report::markdown() const {
  std::string out = "# " + markdown_escape(one_line(title_)) + "\n";
  int figures = 0;
  for (const Block& block : blocks_) {
    out += '\n';
    if (const auto* h = std::get_if<HeadingBlock>(&block)) {
      out += std::string(static_cast<std::size_t>(h->level), '#') + " " + markdown_escape(one_line(h->text)) + "\n";
    } else if (const auto* p = std::get_if<ParagraphBlock>(&block)) {
      out += markdown_escape(p->text) + "\n";
    } else if (const auto* kv = std::get_if<KeyValueBlock>(&block)) {
      out += "| Name | Value |\n| --- | --- |\n";
      for (const auto& [key, value] : kv->rows) out += markdown_row({key, value});
    } else if (const auto* t = std::get_if<TableBlock>(&block)) {
      out += markdown_row(t->header) + "|";
      for (std::size_t c = 0; c < t->header.size(); ++c) out += numeric_column(*t, c) ? " ---: |" : " --- |";
      out += "\n";
      for (const auto& row : t->rows) out += markdown_row(row);
    } else if (const auto* f = std::get_if<FigureBlock>(&block)) {
      const std::string caption = markdown_escape(one_line(fmt::format("Figure {}: {}", ++figures, f->caption)));
      out += fmt::format("![{}]({})\n\n*{}*\n", caption, url_path(f->path), caption);
    } else if (const auto* code = std::get_if<CodeBlock>(&block)) {
      std::size_t longest_run = 0, run = 0;
      for (const char c : code->text) longest_run = std::max(longest_run, run = c == '`' ? run + 1 : 0);
      const std::string fence(std::max<std::size_t>(3, longest_run + 1), '`');
      out += fence + "\n" + code->text + (code->text.ends_with('\n') ? "" : "\n") + fence + "\n";
    }
  }
  return out;
}

std::string Report::html() const {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{0}</title>\n"
      "<style>\n{1}</style>\n</head>\n<body>\n<h1>{0}</h1>\n",
      html_escape(title_), kStyle);
  int figures = 0;
  for (const Block& block : blocks_) {
    if (const auto* h = std::get_if<HeadingBlock>(&block)) {
      out += fmt::format("<h{0}>{1}</h{0}>\n", h->level, html_escape(h->text));
    } else if (const auto* p = std::get_if<ParagraphBlock>(&block)) {
      out += "<p>" + html_escape(p->text) + "</p>\n";
    } else if (const auto* kv = std::get_if<KeyValueBlock>(&block)) {
      out += "<table class=\"kv\">\n";
      for (const auto& [key, value] : kv->rows)
        out += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", html_escape(key), html_escape(value));
      out += "</table>\n";
    } else if (const auto* t = std::get_if<TableBlock>(&block)) {
      std::vector<bool> numeric;
      for (std::size_t c = 0; c < t->header.size(); ++c) numeric.push_back(numeric_column(*t, c));
      out += "<table>\n<thead><tr>";
      for (std::size_t c = 0; c < t->header.size(); ++c)
        out += fmt::format("<th{}>{}</th>", numeric[c] ? " class=\"num\"" : "", html_escape(t->header[c]));
      out += "</tr></thead>\n<tbody>\n";
      for (const auto& row : t->rows) {
        out += "<tr>";
        for (std::size_t c = 0; c < row.size(); ++c)
          out += fmt::format("<td{}>{}</td>", numeric[c] ? " class=\"num\"" : "", html_escape(row[c]));
        out += "</tr>\n";
      }
      out += "</tbody>\n</table>\n";
    } else if (const auto* f = std::get_if<FigureBlock>(&block)) {
      const std::string caption = html_escape(fmt::format("Figure {}: {}", ++figures, f->caption));
      out += fmt::format("<figure>\n<img src=\"{}\" alt=\"{}\">\n<figcaption>{}</figcaption>\n</figure>\n",
                         html_escape(url_path(f->path)), caption, caption);
    } else if (const auto* code = std::get_if<CodeBlock>(&block)) {
      out += "<pre><code>" + html_escape(code->text) + "</code></pre>\n";
    }
  }
  return out + "</body>\n</html>\n";
}

void Report::write(const std::string& directory) const {
  namespace fs = std::filesystem;
  for (const Block& block : blocks_)
    if (const auto* f = std::get_if<FigureBlock>(&block); f != nullptr && !fs::exists(fs::path(directory) / f->path))
      throw std::runtime_error(
          fmt::format("Report '{}': figure '{}' does not exist in {}", title_, f->path, directory));
  write_file_atomically((fs::path(directory) / "report.md").string(), markdown());
  write_file_atomically((fs::path(directory) / "report.html").string(), html());
}

}  // namespace pathgrad::explaind::report
