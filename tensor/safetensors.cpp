// safetensors reading and writing: the JSON header (nlohmann-json), offsets, validation.
#include "tensor/safetensors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "tensor/atomic_file.hpp"
#include "tensor/json_file.hpp"

namespace pathgrad {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian machine");

using Json = nlohmann::ordered_json;  // keeps the header in the order it was written
constexpr const char* kMetadataKey = "__metadata__";
// The reference implementation refuses headers above 100 MB; so do we, before allocating.
constexpr uint64_t kMaxHeader = 100'000'000;

const char* dtype_code(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "F32";
    case DType::Float64:
      return "F64";
    case DType::Int64:
      return "I64";
    case DType::UInt8:
      return "U8";
  }
  return "?";
}

std::optional<DType> dtype_from_code(const std::string& code) {
  for (DType d : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8})
    if (code == dtype_code(d)) return d;
  return std::nullopt;
}

// One tensor's header entry, validated.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

class Loader {
 public:
  explicit Loader(const std::string& path) : path_(path) {}

  [[noreturn]] void fail(const std::string& problem) const {
    throw std::runtime_error(fmt::format("load_safetensors: {}: {}", path_, problem));
  }
  [[noreturn]] void fail(const std::string& name, const std::string& problem) const {
    fail(fmt::format("tensor '{}': {}", name, problem));
  }

  uint64_t non_negative_int(const Json& v, const std::string& name, const char* field) const {
    if (!v.is_number_unsigned())
      fail(name, fmt::format("'{}' must hold non-negative integers, got {}", field, v.dump()));
    return v.get<uint64_t>();
  }

  Entry entry(const std::string& name, const Json& v) const {
    if (!v.is_object()) fail(name, "the header entry is not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!v.contains(field)) fail(name, fmt::format("missing field '{}'", field));
    Entry e;
    e.name = name;
    if (!v["dtype"].is_string()) fail(name, "'dtype' is not a string");
    const std::optional<DType> dtype = dtype_from_code(v["dtype"].get<std::string>());
    if (!dtype) fail(name, fmt::format("unsupported dtype {} (supported: F32, F64, I64, U8)", v["dtype"].dump()));
    e.dtype = *dtype;
    if (!v["shape"].is_array()) fail(name, "'shape' is not an array");
    for (const Json& s : v["shape"]) {
      const uint64_t n = non_negative_int(s, name, "shape");
      if (n > static_cast<uint64_t>(INT64_MAX)) fail(name, fmt::format("shape {} is too large", v["shape"].dump()));
      e.shape.push_back(static_cast<int64_t>(n));
    }
    const std::optional<int64_t> size = contiguous_bytes(e.shape, static_cast<int64_t>(dtype_size(e.dtype)));
    if (!size) fail(name, fmt::format("shape {} of {} is too large", shape_str(e.shape), dtype_name(e.dtype)));
    const uint64_t bytes = static_cast<uint64_t>(*size);
    const Json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2) fail(name, "'data_offsets' is not an array [begin, end]");
    e.begin = non_negative_int(off[0], name, "data_offsets");
    e.end = non_negative_int(off[1], name, "data_offsets");
    if (e.begin > e.end) fail(name, fmt::format("data_offsets [{}, {}] end before they begin", e.begin, e.end));
    if (e.end - e.begin != bytes)
      fail(name, fmt::format("shape {} of {} needs {} bytes but data_offsets [{}, {}] span {}", shape_str(e.shape),
                             dtype_name(e.dtype), bytes, e.begin, e.end, e.end - e.begin));
    return e;
  }

  SafetensorsContents load() {
    std::error_code ec;
    const uint64_t file_size = std::filesystem::file_size(path_, ec);
    if (ec) fail("cannot read the file: " + ec.message());
    std::ifstream in(path_, std::ios::binary);
    if (!in) fail("cannot open the file for reading");
    if (file_size < 8) fail(fmt::format("truncated: {} bytes, too short for the 8-byte header length", file_size));
    unsigned char len_bytes[8];
    in.read(reinterpret_cast<char*>(len_bytes), 8);
    uint64_t header_len = 0;
    for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(len_bytes[i]) << (8 * i);
    if (header_len > file_size - 8)
      fail(fmt::format("header length {} exceeds the {} bytes after the length field", header_len, file_size - 8));
    if (header_len > kMaxHeader) fail(fmt::format("header length {} exceeds the limit of {}", header_len, kMaxHeader));
    std::string text(header_len, '\0');
    if (!in.read(text.data(), static_cast<std::streamsize>(header_len))) fail("truncated header");
    const uint64_t data_size = file_size - 8 - header_len;

    // Bounded (no stack overflow on a deeply nested header); a name that appears twice is refused.
    const Json header = parse_ordered_json(text, fmt::format("load_safetensors: {}: JSON header", path_));
    if (!header.is_object()) fail("the JSON header is not an object");

    SafetensorsContents out;
    std::vector<Entry> entries;
    for (const auto& [name, value] : header.items()) {
      if (name == kMetadataKey) {
        if (!value.is_object()) fail("'__metadata__' is not an object of strings");
        for (const auto& [key, v] : value.items()) {
          if (!v.is_string()) fail(fmt::format("metadata '{}' is not a string: {}", key, v.dump()));
          out.metadata[key] = v.get<std::string>();
        }
        continue;
      }
      entries.push_back(entry(name, value));
    }

    // File order is data order; the tensors must tile [0, data_size) exactly.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
    uint64_t covered = 0;
    for (const Entry& e : entries) {
      if (e.end > data_size)
        fail(e.name,
             fmt::format("data_offsets [{}, {}] go beyond the data buffer of {} bytes", e.begin, e.end, data_size));
      if (e.begin < covered)
        fail(e.name, fmt::format("data_offsets [{}, {}] overlap the previous tensor, which ends at {}", e.begin, e.end,
                                 covered));
      if (e.begin > covered)
        fail(e.name, fmt::format("data_offsets [{}, {}] leave a gap after byte {}", e.begin, e.end, covered));
      covered = e.end;
    }
    if (covered != data_size)
      fail(fmt::format("the tensors cover {} bytes of the {}-byte data buffer ({} bytes unaccounted for)", covered,
                       data_size, data_size - covered));

    for (const Entry& e : entries) {  // sequential: each tensor starts where the previous ended
      Tensor t = Tensor::empty(e.shape, e.dtype);
      if (!in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(e.end - e.begin)))
        fail(e.name, "truncated data");
      out.tensors.emplace_back(e.name, std::move(t));
    }
    return out;
  }

 private:
  const std::string& path_;
};

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header[kMetadataKey] = std::move(meta);
  }
  std::vector<Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == kMetadataKey || header.contains(name))
      throw std::invalid_argument(
          fmt::format("save_safetensors: {}: tensor name '{}' is empty, reserved or repeated", path, name));
    if (!t.defined())
      throw std::invalid_argument(fmt::format("save_safetensors: {}: tensor '{}' is undefined", path, name));
    contiguous.push_back(t.contiguous());
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
    header[name] = {{"dtype", dtype_code(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data 8-byte aligned, as the reference writer does
  write_file_atomically(path, [&](std::ostream& out) {
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const Tensor& t : contiguous)
      out.write(static_cast<const char*>(t.raw_data()),
                static_cast<std::streamsize>(static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype())));
  });
}

SafetensorsContents load_safetensors(const std::string& path) { return Loader(path).load(); }

}  // namespace pathgrad
