// Bounded, strict JSON parsing of file contents (depth limit, repeated keys) and strict integer
// fields, with errors naming the source.
#include "tensor/json_file.hpp"

#include <fmt/format.h>

#include <set>
#include <stdexcept>
#include <vector>

#include "tensor/atomic_file.hpp"

namespace pathgrad {
namespace {

// A JSON value for an error message: its dump, cut short when long.
std::string excerpt(const nlohmann::json& j) {
  std::string s = j.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// nlohmann's parser callback sees every container start and end and every key; it keeps one set
// of keys per open container (empty for arrays) and throws before the nesting gets too deep.
template <class Json>
Json parse_bounded(const std::string& text, const std::string& source) {
  std::vector<std::set<std::string>> open;
  const auto check = [&](int /*depth*/, typename Json::parse_event_t event, Json& parsed) {
    using E = typename Json::parse_event_t;
    if (event == E::object_start || event == E::array_start) {
      if (open.size() >= static_cast<std::size_t>(kMaxJsonDepth))
        throw std::runtime_error(
            fmt::format("{}: JSON nested deeper than {} levels (arrays and objects)", source, kMaxJsonDepth));
      open.emplace_back();
    } else if (event == E::object_end || event == E::array_end) {
      open.pop_back();
    } else if (event == E::key && !open.back().insert(parsed.template get<std::string>()).second) {
      throw std::runtime_error(fmt::format("{}: the key \"{}\" appears twice in one JSON object", source,
                                           parsed.template get<std::string>()));
    }
    return true;
  };
  try {
    return Json::parse(text, check);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("{}: invalid JSON: {}", source, e.what()));
  }
}

}  // namespace

nlohmann::json parse_json(const std::string& text, const std::string& source) {
  return parse_bounded<nlohmann::json>(text, source);
}

nlohmann::ordered_json parse_ordered_json(const std::string& text, const std::string& source) {
  return parse_bounded<nlohmann::ordered_json>(text, source);
}

nlohmann::json read_json_file(const std::string& path) { return parse_json(read_file(path), path); }

int64_t json_int(const nlohmann::json& j, const std::string& field, int64_t lo, int64_t hi) {
  bool integer = false;
  int64_t v = 0;
  if (j.is_number_unsigned()) {  // nlohmann stores every non-negative integer as unsigned
    integer = j.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
    v = static_cast<int64_t>(j.get<uint64_t>());
  } else if (j.is_number_integer()) {
    integer = true;
    v = j.get<int64_t>();
  }
  if (!integer || v < lo || v > hi)
    throw std::invalid_argument(
        fmt::format("field '{}' must be an integer in [{}, {}], got {}", field, lo, hi, excerpt(j)));
  return v;
}

uint64_t json_uint64(const nlohmann::json& j, const std::string& field) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0))
    throw std::invalid_argument(
        fmt::format("field '{}' must be an integer in [0, 18446744073709551615], got {}", field, excerpt(j)));
  return j.get<uint64_t>();
}

}  // namespace pathgrad
