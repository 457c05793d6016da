// Tests for the file formats of tensor/: .npy and safetensors round trips for every dtype and for
// non-contiguous input, every malformed-file case (bytes written by hand), atomic writes, and
// cross-checks with Python's numpy when /usr/bin/python3 has it (skipped otherwise).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tensor/atomic_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/npy.hpp"
#include "tensor/random.hpp"
#include "tensor/safetensors.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "pathgrad_test_io_XXXXXX").string();
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string le_bytes(uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A .npy file written by hand: magic, version, header length, the header text as given, data.
std::string npy_file(const std::string& header, const std::string& data, int major = 1) {
  std::string s = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  s += le_bytes(header.size(), major == 1 ? 2 : 4);
  return s + header + data;
}

// A safetensors file written by hand: the header length (the real one unless given), JSON, data.
std::string st_file(const std::string& json, const std::string& data, int64_t claimed_len = -1) {
  return le_bytes(claimed_len < 0 ? json.size() : static_cast<uint64_t>(claimed_len), 8) + json + data;
}

// The raw little-endian bytes of some doubles / floats.
template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// `depth` arrays nested in one another: "[[[...]]]".
std::string nested(int64_t depth) {
  return std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']');
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  for (size_t i = 0; i < x.size(); ++i)
    if (!(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i]))) || std::signbit(x[i]) != std::signbit(y[i]))
      return false;
  return true;
}

// Expects `f` to throw std::runtime_error whose message names `path` and contains `problem`.
template <class F>
void check_fails(F&& f, const std::string& path, const std::string& problem) {
  try {
    f();
    FAIL_CHECK("no exception for ", problem);
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find(path) != std::string::npos);
    CHECK(what.find(problem) != std::string::npos);
  }
}

// One tensor of each dtype with awkward values (signed zeros, infinities, extreme integers).
std::vector<Tensor> sample_tensors() {
  Generator gen(11);
  Tensor f32 = rand_normal({3, 4}, 0, 10, gen, DType::Float32);
  f32.set({0, 0}, -0.0);
  f32.set({0, 1}, std::numeric_limits<double>::infinity());
  f32.set({0, 2}, 1e-42);  // a float32 subnormal
  Tensor f64 = rand_normal({2, 3, 2}, 0, 1e6, gen, DType::Float64);
  f64.set({1, 2, 1}, -std::numeric_limits<double>::infinity());
  f64.set({0, 0, 0}, std::numeric_limits<double>::denorm_min());
  Tensor i64 = Tensor::from_vector(std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -1, 0,
                                                        (int64_t{1} << 53) + 1, std::numeric_limits<int64_t>::max()},
                                   {5});
  Tensor u8 = Tensor::zeros({4, 64}, DType::UInt8);
  for (int64_t i = 0; i < 256; ++i) u8.set({i / 64, i % 64}, static_cast<double>(255 - i));
  return {f32, f64, i64, u8};
}

// Views whose memory is not in row-major order: transposed, narrowed, broadcast.
std::vector<Tensor> non_contiguous_tensors() {
  Generator gen(12);
  Tensor base = rand_normal({4, 5}, 0, 1, gen, DType::Float64);
  Tensor ints = Tensor::arange(24, DType::Int64);
  return {K::transpose(base, 0, 1), K::narrow(base, 1, 1, 3),
          K::expand(K::reshape(Tensor::arange(3, DType::Float32), {3, 1}), {3, 4}),
          K::permute(K::reshape(ints, {2, 3, 4}), {2, 0, 1})};
}

bool has_numpy() {
  return fs::exists("/usr/bin/python3") && std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

int run_python(const TempDir& dir, const std::string& script, const std::string& args) {
  const std::string file = dir.file("check.py");
  write_bytes(file, script);
  return std::system(("/usr/bin/python3 " + file + " " + args).c_str());
}

// Reverses dim 0 (numpy's flip(x, 0)).
Tensor flip0(const Tensor& t) {
  if (t.dim() == 0) return t;
  const int64_t n = t.size(0);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = n - 1 - i;
  return K::index_select(t, 0, Tensor::from_vector(idx, {n}));
}

}  // namespace

// ---------------------------------------------------------------- .npy
TEST_CASE("npy round trip for every dtype, scalars and empty tensors") {
  TempDir dir;
  std::vector<Tensor> cases = sample_tensors();
  cases.push_back(Tensor::scalar(2.5, DType::Float64));
  cases.push_back(Tensor::zeros({0, 3}, DType::Float32));
  cases.push_back(Tensor::from_vector(std::vector<int64_t>{7}, {1}));
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string p = dir.file(fmt::format("t{}.npy", i));
    save_npy(p, cases[i]);
    Tensor back = load_npy(p);
    INFO(p, " ", cases[i].to_string());
    CHECK(back.is_contiguous());
    CHECK(same_tensor(back, cases[i]));
  }
}

TEST_CASE("npy writes non-contiguous views in their logical order") {
  TempDir dir;
  for (const Tensor& t : non_contiguous_tensors()) {
    REQUIRE_FALSE(t.is_contiguous());
    save_npy(dir.file("v.npy"), t);
    CHECK(same_tensor(load_npy(dir.file("v.npy")), t.contiguous()));
  }
}

TEST_CASE("npy file layout: version 1.0, 64-byte aligned data, numpy's header dict") {
  TempDir dir;
  Tensor t = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::Float32);
  save_npy(dir.file("a.npy"), t);
  const std::string bytes = read_file(dir.file("a.npy"));
  REQUIRE(bytes.size() > 10);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  CHECK((10 + header_len) % 64 == 0);
  const std::string header = bytes.substr(10, header_len);
  CHECK(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0) == 0);
  CHECK(header.back() == '\n');
  CHECK(bytes.size() == 10 + header_len + 6 * 4);
  CHECK(bytes.substr(10 + header_len) == raw(std::vector<float>{1, 2, 3, 4, 5, 6}));
  save_npy(dir.file("b.npy"), Tensor::arange(3, DType::Int64));
  CHECK(read_file(dir.file("b.npy")).find("'shape': (3,)") != std::string::npos);
  save_npy(dir.file("c.npy"), Tensor::scalar(1, DType::UInt8));
  CHECK(read_file(dir.file("c.npy")).find("{'descr': '|u1', 'fortran_order': False, 'shape': (), }") !=
        std::string::npos);
}

TEST_CASE("npy switches to version 2.0 when the header does not fit 1.0") {
  TempDir dir;
  // 25000 dims of size 1: the shape tuple alone is ~75000 characters.
  Tensor t = Tensor::full(Shape(25000, 1), 3.5, DType::Float64);
  save_npy(dir.file("wide.npy"), t);
  const std::string bytes = read_file(dir.file("wide.npy"));
  CHECK(bytes[6] == 2);
  const uint64_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8) |
                              (static_cast<unsigned char>(bytes[10]) << 16);
  CHECK(header_len > 65535);
  CHECK((12 + header_len) % 64 == 0);
  Tensor back = load_npy(dir.file("wide.npy"));
  CHECK(back.shape() == t.shape());
  CHECK(back.item() == 3.5);
}

TEST_CASE("npy reads versions 2.0 and 3.0 and the header variants numpy accepts") {
  TempDir dir;
  const std::string data = raw(std::vector<double>{1.5, -2.5});
  // Double quotes, other key order, no trailing comma, no padding, format 2.0 and 3.0.
  for (int major : {1, 2, 3}) {
    const std::string p = dir.file(fmt::format("v{}.npy", major));
    write_bytes(p, npy_file("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f8\"}\n", data, major));
    Tensor t = load_npy(p);
    CHECK(t.dtype() == DType::Float64);
    CHECK(t.to_vector() == std::vector<double>{1.5, -2.5});
  }
  write_bytes(dir.file("u8.npy"), npy_file("{'descr': '<u1', 'fortran_order': False, 'shape': (2, 1)}", "\x07\xff"));
  Tensor u = load_npy(dir.file("u8.npy"));
  CHECK(u.dtype() == DType::UInt8);
  CHECK(u.to_vector() == std::vector<double>{7, 255});
}

TEST_CASE("npy rejects malformed files, naming the file and the problem") {
  TempDir dir;
  const std::string good_header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n";
  const std::string two = raw(std::vector<double>{1, 2});
  struct Case {
    std::string name, bytes, problem;
  };
  const std::vector<Case> cases = {
      {"bad_magic", "\x93NUMPZ\x01\x00" + le_bytes(good_header.size(), 2) + good_header + two, "bad magic"},
      {"tiny", std::string("\x93NUM", 4), "truncated header"},
      {"header_cut", npy_file(good_header, "").substr(0, 30), "truncated header"},
      {"data_cut", npy_file(good_header, two.substr(0, 15)), "truncated data"},
      {"oversized", npy_file(good_header, two + "x"), "1 extra bytes"},
      {"version", npy_file(good_header, two, 4), "unsupported format version 4.0"},
      {"dtype", npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", two), "unsupported dtype '<i4'"},
      {"complex", npy_file("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", two), "unsupported dtype"},
      {"big_endian", npy_file("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", two), "big-endian"},
      {"fortran", npy_file("{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }", two), "fortran_order"},
      {"missing_key", npy_file("{'descr': '<f8', 'shape': (2,), }", two), "missing key 'fortran_order'"},
      {"extra_key", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", two),
       "unexpected or repeated key 'x'"},
      {"repeated_key", npy_file("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", two),
       "repeated key"},
      {"not_a_dict", npy_file("['<f8', False, (2,)]", two), "malformed header dict"},
      {"unterminated", npy_file("{'descr': '<f8, 'fortran_order': False, 'shape': (2,)}", two),
       "malformed header dict"},
      {"negative_shape", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}", two),
       "malformed header dict"},
      {"bad_bool", npy_file("{'descr': '<f8', 'fortran_order': 0, 'shape': (2,)}", two), "expected True or False"},
      {"structured", npy_file("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,)}", two), "structured"},
      {"trailing_text", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} junk", two),
       "after the closing"},
      {"shape_mismatch", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", two), "truncated data"},
      {"huge_shape", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", two),
       "too large"},
      // A zero dim does not make the others harmless: no tensor has strides 2^62 · 2^62.
      {"zero_next_to_huge",
       npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4611686018427387904), }",
                ""),
       "shape [0, 4611686018427387904, 4611686018427387904] of float64 is too large"},
      {"zero_then_huge_bytes",
       npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 2305843009213693952), }", ""), "too large"},
  };
  for (const Case& c : cases) {
    const std::string p = dir.file(c.name + ".npy");
    write_bytes(p, c.bytes);
    INFO(c.name);
    check_fails([&] { load_npy(p); }, p, c.problem);
  }
  check_fails([&] { load_npy(dir.file("missing.npy")); }, dir.file("missing.npy"), "cannot read");
}

// ---------------------------------------------------------------- safetensors
TEST_CASE("safetensors round trip: every dtype, views, metadata, file order") {
  TempDir dir;
  std::vector<Tensor> all = sample_tensors();
  for (const Tensor& t : non_contiguous_tensors()) all.push_back(t);
  all.push_back(Tensor::scalar(-4, DType::Float32));
  all.push_back(Tensor::zeros({2, 0}, DType::Float64));
  NamedTensors named;
  // Names deliberately not in alphabetical order: the file order must survive.
  for (size_t i = 0; i < all.size(); ++i) named.emplace_back(fmt::format("layer.{}.w", all.size() - i), all[i]);
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"step", "1200"}, {"note", "ünïcode \"quoted\""}};
  save_safetensors(dir.file("m.safetensors"), named, meta);
  SafetensorsContents back = load_safetensors(dir.file("m.safetensors"));
  CHECK(back.metadata == meta);
  REQUIRE(back.tensors.size() == named.size());
  for (size_t i = 0; i < named.size(); ++i) {
    INFO(named[i].first);
    CHECK(back.tensors[i].first == named[i].first);
    CHECK(back.tensors[i].second.is_contiguous());
    CHECK(same_tensor(back.tensors[i].second, named[i].second.contiguous()));
  }
  save_safetensors(dir.file("empty.safetensors"), {});
  SafetensorsContents none = load_safetensors(dir.file("empty.safetensors"));
  CHECK(none.tensors.empty());
  CHECK(none.metadata.empty());
}

TEST_CASE("safetensors file layout follows the format") {
  TempDir dir;
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::Float32);
  Tensor b = Tensor::from_vector(std::vector<int64_t>{5, 6}, {2, 1});
  save_safetensors(dir.file("f.safetensors"), {{"b", b}, {"a", a}}, {{"k", "v"}});
  const std::string bytes = read_file(dir.file("f.safetensors"));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  CHECK(n % 8 == 0);
  REQUIRE(bytes.size() == 8 + n + 2 * 8 + 3 * 4);
  const nlohmann::json h = nlohmann::json::parse(bytes.substr(8, n));
  CHECK(h["__metadata__"] == nlohmann::json{{"k", "v"}});
  CHECK(h["b"] == nlohmann::json{{"dtype", "I64"}, {"shape", {2, 1}}, {"data_offsets", {0, 16}}});
  CHECK(h["a"] == nlohmann::json{{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {16, 28}}});
  CHECK(bytes.substr(8 + n) == raw(std::vector<int64_t>{5, 6}) + raw(std::vector<float>{1, 2, 3}));
}

TEST_CASE("safetensors refuses names it cannot write") {
  TempDir dir;
  const Tensor t = Tensor::ones({2});
  const std::string p = dir.file("x.safetensors");
  CHECK_THROWS_WITH_AS(save_safetensors(p, {{"w", t}, {"w", t}}), doctest::Contains("'w'"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(save_safetensors(p, {{"__metadata__", t}}), doctest::Contains("reserved"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(save_safetensors(p, {{"", t}}), doctest::Contains("empty"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(save_safetensors(p, {{"u", Tensor()}}), doctest::Contains("'u' is undefined"),
                       std::invalid_argument);
  CHECK_FALSE(fs::exists(p));
}

TEST_CASE("safetensors rejects malformed files, naming the file and the tensor") {
  TempDir dir;
  const std::string d16 = raw(std::vector<double>{1, 2});  // 16 bytes
  auto entry = [](const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return "{\"dtype\": \"" + dtype + "\", \"shape\": " + shape + ", \"data_offsets\": " + offsets + "}";
  };
  struct Case {
    std::string name, bytes, problem;
  };
  const std::vector<Case> cases = {
      {"short", std::string("\x10\x00\x00", 3), "too short"},
      {"len_beyond", st_file("{}", "", 1000), "header length 1000 exceeds"},
      {"bad_json", st_file("{\"w\": {\"dtype\": \"F64\",", d16), "invalid JSON"},
      {"not_object", st_file("[1, 2]", d16), "not an object"},
      {"entry_not_object", st_file("{\"w\": 3}", d16), "tensor 'w': the header entry is not an object"},
      {"no_dtype", st_file("{\"w\": {\"shape\": [2], \"data_offsets\": [0, 16]}}", d16),
       "tensor 'w': missing field 'dtype'"},
      {"no_shape", st_file("{\"w\": {\"dtype\": \"F64\", \"data_offsets\": [0, 16]}}", d16),
       "tensor 'w': missing field 'shape'"},
      {"no_offsets", st_file("{\"w\": {\"dtype\": \"F64\", \"shape\": [2]}}", d16),
       "tensor 'w': missing field 'data_offsets'"},
      {"dtype", st_file("{\"w\": " + entry("BF16", "[8]", "[0, 16]") + "}", d16),
       "tensor 'w': unsupported dtype \"BF16\""},
      {"dtype_type", st_file("{\"w\": {\"dtype\": 64, \"shape\": [2], \"data_offsets\": [0, 16]}}", d16),
       "'dtype' is not a string"},
      {"shape_type", st_file("{\"w\": " + entry("F64", "[-2]", "[0, 16]") + "}", d16), "non-negative integers"},
      {"offsets_type", st_file("{\"w\": " + entry("F64", "[2]", "[0.0, 16]") + "}", d16), "non-negative integers"},
      {"offsets_len", st_file("{\"w\": " + entry("F64", "[2]", "[0, 8, 16]") + "}", d16), "[begin, end]"},
      {"reversed", st_file("{\"w\": " + entry("F64", "[0]", "[16, 0]") + "}", d16), "end before they begin"},
      {"span", st_file("{\"w\": " + entry("F64", "[3]", "[0, 16]") + "}", d16),
       "tensor 'w': shape [3] of float64 needs 24 bytes"},
      {"beyond", st_file("{\"w\": " + entry("F64", "[3]", "[0, 24]") + "}", d16),
       "tensor 'w': data_offsets [0, 24] go beyond"},
      {"overlap",
       st_file("{\"a\": " + entry("F64", "[2]", "[0, 16]") + ", \"b\": " + entry("F64", "[1]", "[8, 16]") + "}", d16),
       "tensor 'b': data_offsets [8, 16] overlap"},
      {"gap", st_file("{\"a\": " + entry("F64", "[1]", "[8, 16]") + "}", d16),
       "tensor 'a': data_offsets [8, 16] leave a gap"},
      {"uncovered", st_file("{\"a\": " + entry("F64", "[1]", "[0, 8]") + "}", d16), "8 bytes unaccounted"},
      {"duplicate",
       st_file("{\"a\": " + entry("F64", "[1]", "[0, 8]") + ", \"a\": " + entry("F64", "[1]", "[8, 16]") + "}", d16),
       "the key \"a\" appears twice"},
      {"metadata", st_file("{\"__metadata__\": {\"k\": 1}}", ""), "metadata 'k' is not a string"},
      // A million nested arrays: dump() of them in an error message overflowed the stack.
      {"nested_shape", st_file("{\"w\": " + entry("F64", nested(1'000'000), "[0, 16]") + "}", d16),
       "JSON nested deeper than 64"},
      {"nested_metadata", st_file("{\"__metadata__\": {\"k\": " + nested(1'000'000) + "}}", ""),
       "JSON nested deeper than 64"},
      {"zero_next_to_huge",
       st_file("{\"w\": " + entry("F64", "[0, 4611686018427387904, 4611686018427387904]", "[0, 0]") + "}", ""),
       "tensor 'w': shape [0, 4611686018427387904, 4611686018427387904] of float64 is too large"},
  };
  for (const Case& c : cases) {
    const std::string p = dir.file(c.name + ".safetensors");
    write_bytes(p, c.bytes);
    INFO(c.name);
    check_fails([&] { load_safetensors(p); }, p, c.problem);
  }
  check_fails([&] { load_safetensors(dir.file("nope.safetensors")); }, dir.file("nope.safetensors"), "cannot read");
}

// ---------------------------------------------------------------- atomic writes
TEST_CASE("writes are atomic: a failed write leaves the old file and no temporary behind") {
  TempDir dir;
  const std::string p = dir.file("sub/dir/w.npy");  // parent directories are created
  save_npy(p, Tensor::ones({2}));
  save_npy(p, Tensor::zeros({3}));  // replaces
  CHECK(load_npy(p).to_vector() == std::vector<double>{0, 0, 0});
  CHECK_THROWS_AS(write_file_atomically(p,
                                        [](std::ostream& out) {
                                          out << "partial";
                                          throw std::runtime_error("writer failed");
                                        }),
                  std::runtime_error);
  CHECK(load_npy(p).to_vector() == std::vector<double>{0, 0, 0});
  int files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(p).parent_path())) files += e.is_regular_file();
  CHECK(files == 1);
}

// ---------------------------------------------------------------- numpy cross-checks
TEST_CASE("numpy reads our .npy files and we read numpy's") {
  if (!has_numpy()) {
    MESSAGE("skipped: /usr/bin/python3 with numpy is not available");
    return;
  }
  TempDir dir;
  std::vector<Tensor> cases = sample_tensors();
  for (const Tensor& t : non_contiguous_tensors()) cases.push_back(t);
  cases.push_back(Tensor::scalar(0.25, DType::Float64));
  std::string args;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string p = dir.file(fmt::format("c{}.npy", i));
    save_npy(p, cases[i]);
    static const std::map<DType, std::string> descr{
        {DType::Float32, "<f4"}, {DType::Float64, "<f8"}, {DType::Int64, "<i8"}, {DType::UInt8, "|u1"}};
    // quoted: '<' is a shell redirect
    args += fmt::format(" '{}:{}:{}'", p, descr.at(cases[i].dtype()), fmt::join(cases[i].shape(), ","));
  }
  // numpy checks dtype and shape, writes flip(x, 0) back, plus files in format 2.0 / 3.0 and a
  // Fortran-ordered one.
  const std::string script = R"PY(
import sys, numpy as np
for arg in sys.argv[2:]:
    path, descr, shape = arg.split(":")
    x = np.load(path)
    want = tuple(int(s) for s in shape.split(",")) if shape else ()
    assert x.dtype.str == descr and x.shape == want, (path, x.dtype.str, x.shape)
    np.save(path + ".flipped.npy", np.ascontiguousarray(np.flip(x, 0)) if x.ndim else x)
out = sys.argv[1]
a = (np.arange(12, dtype="<f8").reshape(3, 4) - 5.5) / 3
for v in [(2, 0), (3, 0)]:
    with open(out + "/v%d.npy" % v[0], "wb") as f:
        np.lib.format.write_array(f, a, version=v)
np.save(out + "/fortran.npy", np.asfortranarray(a))
)PY";
  REQUIRE(run_python(dir, script, dir.path.string() + args) == 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    Tensor back = load_npy(dir.file(fmt::format("c{}.npy.flipped.npy", i)));
    INFO(i);
    CHECK(same_tensor(back, flip0(cases[i]).contiguous()));
  }
  for (const char* v : {"v2.npy", "v3.npy"}) {
    Tensor t = load_npy(dir.file(v));
    REQUIRE(t.shape() == Shape{3, 4});
    for (int64_t i = 0; i < 12; ++i) CHECK(t.at({i / 4, i % 4}) == (static_cast<double>(i) - 5.5) / 3);
  }
  check_fails([&] { load_npy(dir.file("fortran.npy")); }, dir.file("fortran.npy"), "fortran_order");
}

TEST_CASE("numpy alone parses our safetensors files, and we read one it wrote") {
  if (!has_numpy()) {
    MESSAGE("skipped: /usr/bin/python3 with numpy is not available");
    return;
  }
  TempDir dir;
  const std::vector<Tensor> tensors = sample_tensors();
  NamedTensors named{{"f32", tensors[0]},
                     {"f64", tensors[1]},
                     {"i64", tensors[2]},
                     {"u8", tensors[3]},
                     {"view", non_contiguous_tensors()[0]}};
  save_safetensors(dir.file("ours.safetensors"), named, {{"epoch", "3"}});
  // A reader in a few lines of numpy: it re-saves every tensor as .npy and the metadata as JSON.
  // Then it writes its own file: unpadded header, keys not in data order.
  const std::string script = R"PY(
import sys, json, struct, numpy as np
out = sys.argv[1]
raw = open(out + "/ours.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
types = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "U8": "u1"}
for name, info in header.items():
    if name == "__metadata__":
        json.dump(info, open(out + "/metadata.json", "w"))
        continue
    b, e = info["data_offsets"]
    x = np.frombuffer(data[b:e], dtype=types[info["dtype"]]).reshape(info["shape"])
    np.save(out + "/" + name + ".npy", x)
w = (np.arange(6, dtype="<f4").reshape(2, 3) * 0.5).tobytes()
i = np.array([-3, 9], dtype="<i8").tobytes()
h = json.dumps({"weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [16, 40]},
                "index": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
                "__metadata__": {"by": "numpy"}}).encode()
open(out + "/theirs.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + i + w)
)PY";
  REQUIRE(run_python(dir, script, dir.path.string()) == 0);
  for (const auto& [name, t] : named) {
    INFO(name);
    CHECK(same_tensor(load_npy(dir.file(name + ".npy")), t.contiguous()));
  }
  CHECK(nlohmann::json::parse(read_file(dir.file("metadata.json"))) == nlohmann::json{{"epoch", "3"}});
  SafetensorsContents theirs = load_safetensors(dir.file("theirs.safetensors"));
  CHECK(theirs.metadata == std::map<std::string, std::string>{{"by", "numpy"}});
  REQUIRE(theirs.tensors.size() == 2);
  CHECK(theirs.tensors[0].first == "index");  // file order = data order
  CHECK(theirs.tensors[0].second.to_vector() == std::vector<double>{-3, 9});
  CHECK(theirs.tensors[1].first == "weight");
  CHECK(theirs.tensors[1].second.shape() == Shape{2, 3});
  for (int64_t k = 0; k < 6; ++k) CHECK(theirs.tensors[1].second.at({k / 3, k % 3}) == 0.5 * static_cast<double>(k));
}
