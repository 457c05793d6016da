// JSON read from files, bounded and strict: every place that parses JSON coming from a file goes
// through here, so a hostile file gives an error naming it instead of a stack overflow or a bare
// nlohmann exception.
//
// Why a bound: nlohmann-json parses and destroys iteratively, but copying, comparing and dump()
// recurse once per nesting level, so a document nested a few hundred thousand levels deep (a
// 1 MB file of '[') overflows the stack as soon as it is copied or printed in an error message.
// Refusing such documents at parse time keeps every later operation shallow.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace pathgrad {

// Deepest nesting of arrays and objects accepted; the files pathgrad writes nest a few levels.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text`. `source` says where it came from ("run/state.json", or "x.safetensors: metadata
// 'k'") and starts every error message. Refuses invalid JSON, nesting deeper than kMaxJsonDepth
// and a key appearing twice in one object (JSON would silently keep one of them).
// Throws std::runtime_error "<source>: <what is wrong>", never a nlohmann exception.
nlohmann::json parse_json(const std::string& text, const std::string& source);
// The same, keeping the keys of objects in the order they were written.
nlohmann::ordered_json parse_ordered_json(const std::string& text, const std::string& source);
// The whole file at `path`, parsed by parse_json. Throws std::runtime_error naming the path.
nlohmann::json read_json_file(const std::string& path);

// Strict integer fields: `j` must be a JSON integer (not 2.7, not 1e300, not "3") in [lo, hi].
// Throws std::invalid_argument "field '<field>' must be an integer in [lo, hi], got <value>".
int64_t json_int(const nlohmann::json& j, const std::string& field, int64_t lo = 0, int64_t hi = INT64_MAX);
// The same for an unsigned 64-bit field (a seed, a generator word): any integer in [0, 2^64).
uint64_t json_uint64(const nlohmann::json& j, const std::string& field);

}  // namespace pathgrad
