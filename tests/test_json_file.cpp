// Tests for tensor/json_file: the bounded JSON reader every file loader uses (nesting limit,
// repeated keys, errors naming the source) and the strict integer fields.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "tensor/json_file.hpp"

using namespace pathgrad;
using nlohmann::json;

namespace {

// `depth` arrays nested in one another: "[[[...]]]".
std::string nested(int64_t depth) {
  return std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']');
}

// The message of the std::runtime_error `f` throws (fails the check if it throws nothing).
template <class F>
std::string runtime_error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL_CHECK("no std::runtime_error");
  return "";
}

}  // namespace

TEST_CASE("parse_json accepts nesting up to the limit and refuses deeper, naming the source") {
  CHECK(parse_json(nested(kMaxJsonDepth), "ok.json").is_array());
  const std::string deeper = runtime_error_of([] { parse_json(nested(kMaxJsonDepth + 1), "deep.json"); });
  CHECK(deeper.find("deep.json: JSON nested deeper than 64 levels") == 0);
  // A million levels: a stack overflow for any recursive copy, dump or comparison of the result.
  const std::string huge = runtime_error_of([] { parse_json(nested(1'000'000), "huge.json"); });
  CHECK(huge.find("huge.json: JSON nested deeper") == 0);
  const std::string objects = runtime_error_of([] {
    std::string s;
    for (int i = 0; i < 100'000; ++i) s += "{\"a\":";
    parse_json(s + "1" + std::string(100'000, '}'), "objects.json");
  });
  CHECK(objects.find("objects.json: JSON nested deeper") == 0);
}

TEST_CASE("parse_json refuses invalid JSON and repeated keys as std::runtime_error naming the source") {
  CHECK(runtime_error_of([] { parse_json("{\"a\": ", "cut.json"); }).find("cut.json: invalid JSON: ") == 0);
  CHECK(runtime_error_of([] { parse_json("1e999", "big.json"); }).find("big.json: invalid JSON: ") == 0);
  CHECK(runtime_error_of([] { parse_json("{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}}", "twice.json"); }) ==
        "twice.json: the key \"c\" appears twice in one JSON object");
  // The same key in different objects is fine.
  const json j = parse_json("{\"c\": 1, \"b\": {\"c\": 2}, \"l\": [{\"c\": 3}, {\"c\": 4}]}", "ok.json");
  CHECK(j["l"][1]["c"] == 4);
  const nlohmann::ordered_json o = parse_ordered_json("{\"z\": 1, \"a\": 2}", "ordered.json");
  CHECK(o.begin().key() == "z");
}

TEST_CASE("read_json_file names the file it cannot read or parse") {
  const std::filesystem::path p = std::filesystem::temp_directory_path() / "pathgrad_test_json_file.json";
  CHECK(runtime_error_of([&] { read_json_file(p.string() + ".missing"); }).find(p.string() + ".missing") !=
        std::string::npos);
  std::ofstream(p) << nested(100);
  CHECK(runtime_error_of([&] { read_json_file(p.string()); }).find(p.string() + ": JSON nested deeper") == 0);
  std::ofstream(p) << "{\"x\": [1, 2]}";
  CHECK(read_json_file(p.string())["x"][1] == 2);
  std::filesystem::remove(p);
}

TEST_CASE("json_int takes exact integers in range only, naming the field") {
  CHECK(json_int(json::parse("3"), "epoch") == 3);
  CHECK(json_int(json::parse("-5"), "delta", -10, 10) == -5);
  CHECK(json_int(json::parse("9223372036854775807"), "big") == INT64_MAX);
  for (const char* bad :
       {"2.7", "2.0", "1e300", "\"3\"", "null", "true", "[3]", "-1", "9223372036854775808", "18446744073709551615"}) {
    INFO(bad);
    try {
      json_int(json::parse(bad), "epoch");
      FAIL_CHECK("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find("field 'epoch' must be an integer in [0, 9223372036854775807], got ") == 0);
    }
  }
  CHECK_THROWS_AS(json_int(json::parse("11"), "delta", -10, 10), std::invalid_argument);
  CHECK_THROWS_AS(json_int(json::parse("-11"), "delta", -10, 10), std::invalid_argument);
}

TEST_CASE("json_uint64 takes every unsigned 64-bit integer and nothing else") {
  CHECK(json_uint64(json::parse("18446744073709551615"), "seed") == UINT64_MAX);
  CHECK(json_uint64(json::parse("0"), "seed") == 0);
  for (const char* bad : {"-1", "1.5", "18446744073709551616", "\"1\""}) {
    INFO(bad);
    CHECK_THROWS_WITH_AS(json_uint64(json::parse(bad), "seed"),
                         doctest::Contains("field 'seed' must be an integer in [0, 18446744073709551615]"),
                         std::invalid_argument);
  }
}
