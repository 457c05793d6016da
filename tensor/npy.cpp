// NumPy .npy reading and writing: the header dict (a small Python literal), dtypes, validation.
#include "tensor/npy.hpp"

#include <fmt/format.h>

#include <bit>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "tensor/atomic_file.hpp"

namespace pathgrad {
namespace {

static_assert(std::endian::native == std::endian::little, ".npy I/O assumes a little-endian machine");

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw std::runtime_error(fmt::format("load_npy: {}: {}", path, problem));
}

const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "<f4";
    case DType::Float64:
      return "<f8";
    case DType::Int64:
      return "<i8";
    case DType::UInt8:
      return "|u1";
  }
  return "?";
}

DType dtype_of_descr(const std::string& descr, const std::string& path) {
  if (descr == "<f4") return DType::Float32;
  if (descr == "<f8") return DType::Float64;
  if (descr == "<i8") return DType::Int64;
  if (descr == "|u1" || descr == "<u1" || descr == ">u1") return DType::UInt8;  // one byte: no order
  if (!descr.empty() && descr[0] == '>')
    fail(path, fmt::format("big-endian dtype '{}' is not supported (expected little-endian)", descr));
  fail(path, fmt::format("unsupported dtype '{}' (supported: <f4, <f8, <i8, |u1)", descr));
}

struct Header {
  DType dtype;
  Shape shape;
};

// The header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }: a Python
// literal with exactly these three keys, strings in single or double quotes, a tuple of ints.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  Header parse() {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<Shape> shape;
    expect('{');
    while (true) {
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      skip_space();
      if (key == "descr" && !descr) {
        if (peek() != '\'' && peek() != '"')
          malformed("'descr' is not a plain dtype string (structured dtypes are not supported)");
        descr = parse_string();
      } else if (key == "fortran_order" && !fortran_order) {
        fortran_order = parse_bool();
      } else if (key == "shape" && !shape) {
        shape = parse_shape();
      } else {
        malformed(fmt::format("unexpected or repeated key '{}'", key));
      }
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') malformed("expected ',' or '}' after a value");
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != s_.size()) malformed("unexpected text after the closing '}'");
    if (!descr) malformed("missing key 'descr'");
    if (!fortran_order) malformed("missing key 'fortran_order'");
    if (!shape) malformed("missing key 'shape'");
    if (*fortran_order) fail(path_, "fortran_order is True; only C-order arrays are supported");
    return {dtype_of_descr(*descr, path_), *shape};
  }

 private:
  [[noreturn]] void malformed(const std::string& what) const {
    fail(path_, fmt::format("malformed header dict ({} at offset {}): {}", what, pos_, s_));
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  char peek() {
    skip_space();
    if (pos_ >= s_.size()) malformed("unexpected end");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) malformed(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') malformed("expected a quoted string");
    const std::size_t end = s_.find(quote, pos_ + 1);
    if (end == std::string::npos) malformed("unterminated string");
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    skip_space();
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    malformed("expected True or False");
  }
  Shape parse_shape() {
    Shape shape;
    expect('(');
    while (peek() != ')') {
      if (!std::isdigit(static_cast<unsigned char>(s_[pos_])))
        malformed("expected a non-negative integer in the shape");
      int64_t v = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        if (v > (INT64_MAX - 9) / 10) malformed("shape entry too large");
        v = v * 10 + (s_[pos_++] - '0');
      }
      shape.push_back(v);
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        malformed("expected ',' or ')' in the shape");
    }
    ++pos_;  // ')'
    return shape;
  }

  const std::string& s_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

std::string shape_tuple(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + ")";
}

}  // namespace

std::string npy_header(DType dtype, const Shape& shape) {
  const std::string dict =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr_of(dtype), shape_tuple(shape));
  // Version 1.0 stores the header length in 2 bytes, 2.0 in 4; the data starts 64-aligned.
  auto padded = [&](std::size_t fixed) {
    return dict + std::string((64 - (fixed + dict.size() + 1) % 64) % 64, ' ') + "\n";
  };
  std::string header = padded(10);
  const bool v2 = header.size() > 65535;
  if (v2) header = padded(12);
  std::string out(kMagic, kMagicSize);
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  const uint32_t len = static_cast<uint32_t>(header.size());
  for (std::size_t i = 0; i < (v2 ? 4u : 2u); ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + header;
}

void save_npy(const std::string& path, const Tensor& tensor) {
  const Tensor c = tensor.contiguous();
  const std::string head = npy_header(c.dtype(), c.shape());
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    out.write(static_cast<const char*>(c.raw_data()),
              static_cast<std::streamsize>(static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype())));
  });
}

Tensor load_npy(const std::string& path) {
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot read the file: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the file for reading");
  auto read_exact = [&](char* dst, uint64_t n, const char* what) {
    if (!in.read(dst, static_cast<std::streamsize>(n))) fail(path, fmt::format("truncated {}", what));
  };

  char fixed[12];
  if (file_size < 10) fail(path, fmt::format("truncated header: the file has only {} bytes", file_size));
  read_exact(fixed, 8, "header");
  if (std::memcmp(fixed, kMagic, kMagicSize) != 0) fail(path, "bad magic: not a .npy file");
  const int major = static_cast<unsigned char>(fixed[6]), minor = static_cast<unsigned char>(fixed[7]);
  if (!((major == 1 || major == 2 || major == 3) && minor == 0))
    fail(path, fmt::format("unsupported format version {}.{} (supported: 1.0, 2.0, 3.0)", major, minor));
  const uint64_t len_bytes = major == 1 ? 2 : 4;
  if (file_size < 8 + len_bytes) fail(path, "truncated header length");
  read_exact(fixed + 8, len_bytes, "header length");
  uint64_t header_len = 0;
  for (uint64_t i = 0; i < len_bytes; ++i)
    header_len |= static_cast<uint64_t>(static_cast<unsigned char>(fixed[8 + i])) << (8 * i);
  const uint64_t data_start = 8 + len_bytes + header_len;
  if (data_start > file_size)
    fail(path, fmt::format("truncated header: it claims {} bytes but the file has {} in total", header_len, file_size));
  std::string text(header_len, '\0');
  read_exact(text.data(), header_len, "header");

  const Header h = HeaderParser(text, path).parse();
  const std::optional<int64_t> bytes = contiguous_bytes(h.shape, static_cast<int64_t>(dtype_size(h.dtype)));
  if (!bytes) fail(path, fmt::format("shape {} of {} is too large", shape_str(h.shape), dtype_name(h.dtype)));
  const uint64_t expected = static_cast<uint64_t>(*bytes);
  const uint64_t available = file_size - data_start;
  if (available < expected)
    fail(path, fmt::format("truncated data: shape {} of {} needs {} bytes, the file holds {}", shape_str(h.shape),
                           dtype_name(h.dtype), expected, available));
  if (available > expected)
    fail(path, fmt::format("{} extra bytes after the data of shape {} of {} ({} bytes)", available - expected,
                           shape_str(h.shape), dtype_name(h.dtype), expected));
  Tensor t = Tensor::empty(h.shape, h.dtype);
  read_exact(static_cast<char*>(t.raw_data()), expected, "data");
  return t;
}

}  // namespace pathgrad
