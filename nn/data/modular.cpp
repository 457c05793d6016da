// Modular arithmetic: results, the pair list and its seeded split, tokens, and the CSV record.
#include "nn/data/modular.hpp"

#include <fmt/format.h>

#include <charconv>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

#include "tensor/atomic_file.hpp"
#include "tensor/random.hpp"

namespace pathgrad::nn::data {
namespace {

constexpr int64_t kMaxModulus = int64_t{1} << 31;  // keeps a * b within int64

bool is_prime(int64_t p) {
  if (p < 2) return false;
  for (int64_t d = 2; d * d <= p; ++d)
    if (p % d == 0) return false;
  return true;
}

void check_modulus(int64_t p, ModularOp op) {
  if (p < 2 || p >= kMaxModulus)
    throw std::invalid_argument(fmt::format("modular arithmetic: expected a modulus p in [2, 2^31), got {}", p));
  if (op == ModularOp::Div && !is_prime(p))
    throw std::invalid_argument(
        fmt::format("modular arithmetic: division needs a prime modulus (every b != 0 invertible), got p = {}", p));
}

// b⁻¹ mod p by the extended Euclidean algorithm (p prime, 0 < b < p).
int64_t modular_inverse(int64_t b, int64_t p) {
  int64_t r0 = p, r1 = b, t0 = 0, t1 = 1;
  while (r1 != 0) {
    const int64_t q = r0 / r1;
    std::tie(r0, r1) = std::pair(r1, r0 - q * r1);
    std::tie(t0, t1) = std::pair(t1, t0 - q * t1);
  }
  return (t0 % p + p) % p;
}

// Builds one split from flat (a, b) pairs: pairs [N, 2], tokens [N, 4], results [N].
ModularSplit make_split(const std::vector<int64_t>& ab, int64_t p, ModularOp op) {
  const int64_t n = static_cast<int64_t>(ab.size() / 2);
  ModularSplit split{Tensor::from_vector(ab, {n, 2}), Tensor::zeros({n, 4}, DType::Int64),
                     Tensor::zeros({n}, DType::Int64)};
  int64_t* x = split.x.data<int64_t>();
  int64_t* y = split.y.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t a = ab[2 * i], b = ab[2 * i + 1];
    x[4 * i + 0] = a;
    x[4 * i + 1] = p;
    x[4 * i + 2] = b;
    x[4 * i + 3] = p + 1;
    y[i] = modular_result(a, b, p, op);
  }
  return split;
}

}  // namespace

const char* modular_op_symbol(ModularOp op) {
  switch (op) {
    case ModularOp::Add:
      return "+";
    case ModularOp::Sub:
      return "-";
    case ModularOp::Mul:
      return "*";
    case ModularOp::Div:
      break;
  }
  return "/";
}

int64_t modular_result(int64_t a, int64_t b, int64_t p, ModularOp op) {
  switch (op) {
    case ModularOp::Add:
      return (a + b) % p;
    case ModularOp::Sub:
      return ((a - b) % p + p) % p;
    case ModularOp::Mul:
      return (a * b) % p;
    case ModularOp::Div:
      break;
  }
  if (b == 0) throw std::invalid_argument(fmt::format("modular arithmetic: division of {} by 0 mod {}", a, p));
  return (a * modular_inverse(b, p)) % p;
}

ModularData make_modular_data(const ModularOptions& options) {
  const int64_t p = options.p();
  const ModularOp op = options.op();
  check_modulus(p, op);
  // all pairs, a-major, b ascending
  std::vector<int64_t> all;
  for (int64_t a = 0; a < p; ++a)
    for (int64_t b = (op == ModularOp::Div ? 1 : 0); b <= (options.ordered_pairs() ? p - 1 : a); ++b) {
      all.push_back(a);
      all.push_back(b);
    }
  const int64_t m = static_cast<int64_t>(all.size() / 2);
  const int64_t n_val = options.n_val(), n_train = options.n_train();
  if (n_val < 0 || n_train < 1 || n_val > m || n_train > m - n_val)
    throw std::invalid_argument(fmt::format(
        "modular arithmetic: expected n_val >= 0, n_train >= 1 and n_val + n_train <= {} ({} "
        "pairs for p = {}, op "
        "'{}'), found n_val = {}, n_train = {}",
        m, options.ordered_pairs() ? "ordered" : "unordered a >= b", p, modular_op_symbol(op), n_val, n_train));
  Generator gen(options.seed());
  const Tensor perm = randperm(m, gen);
  const int64_t* order = perm.data<int64_t>();
  const auto take = [&](int64_t begin, int64_t count) {
    std::vector<int64_t> ab;
    ab.reserve(static_cast<size_t>(2 * count));
    for (int64_t i = begin; i < begin + count; ++i) {
      ab.push_back(all[2 * order[i]]);
      ab.push_back(all[2 * order[i] + 1]);
    }
    return make_split(ab, p, op);
  };
  ModularData data;
  data.p = p;
  data.op = op;
  data.val = take(0, n_val);
  data.train = take(n_val, n_train);
  return data;
}

void ModularData::save_csv(const std::string& path) const {
  std::string text = "split,index,a,b,result\n";
  for (const auto& [name, split] : {std::pair<const char*, const ModularSplit*>{"train", &train}, {"val", &val}}) {
    const int64_t* ab = split->pairs.data<int64_t>();
    const int64_t* result = split->y.data<int64_t>();
    const int64_t n = split->size();
    for (int64_t i = 0; i < n; ++i)
      text += fmt::format("{},{},{},{},{}\n", name, i, ab[2 * i], ab[2 * i + 1], result[i]);
  }
  write_file_atomically(path, text);
}

ModularData load_modular_csv(const std::string& path, int64_t p, ModularOp op) {
  check_modulus(p, op);
  const std::string text = read_file(path);
  std::istringstream lines(text);
  std::string line;
  int64_t line_no = 0;
  const auto fail = [&](const std::string& what) {
    return std::runtime_error(fmt::format("{}:{}: {}", path, line_no, what));
  };
  const auto next_line = [&] {
    if (!std::getline(lines, line)) return false;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  };
  const std::string header = "split,index,a,b,result";
  if (!next_line() || line != header) throw fail(fmt::format("expected the header \"{}\", found \"{}\"", header, line));
  std::vector<int64_t> train_ab, val_ab;
  while (next_line()) {
    if (line.empty()) continue;
    std::vector<std::string> fields;
    std::istringstream row(line);
    for (std::string f; std::getline(row, f, ',');) fields.push_back(f);
    if (fields.size() != 5) throw fail(fmt::format("expected 5 fields split,index,a,b,result, found \"{}\"", line));
    int64_t v[4];  // index, a, b, result
    for (int k = 0; k < 4; ++k) {
      const std::string& f = fields[static_cast<size_t>(k) + 1];
      const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v[k]);
      if (ec != std::errc() || end != f.data() + f.size() || f.empty())
        throw fail(fmt::format("expected an integer in field {}, found \"{}\"", k + 2, f));
    }
    std::vector<int64_t>* ab = fields[0] == "train" ? &train_ab : fields[0] == "val" ? &val_ab : nullptr;
    if (ab == nullptr) throw fail(fmt::format("expected split \"train\" or \"val\", found \"{}\"", fields[0]));
    const int64_t expected_index = static_cast<int64_t>(ab->size() / 2);
    if (v[0] != expected_index)
      throw fail(fmt::format("expected index {} in split {}, found {}", expected_index, fields[0], v[0]));
    for (int k : {1, 2})
      if (v[k] < 0 || v[k] >= p) throw fail(fmt::format("expected a residue in [0, {}), found {}", p, v[k]));
    if (op == ModularOp::Div && v[2] == 0) throw fail("expected b != 0 for division, found b = 0");
    const int64_t expected = modular_result(v[1], v[2], p, op);
    if (v[3] != expected)
      throw fail(fmt::format("expected result {} {} {} mod {} = {}, found {}", v[1], modular_op_symbol(op), v[2], p,
                             expected, v[3]));
    ab->push_back(v[1]);
    ab->push_back(v[2]);
  }
  if (train_ab.empty()) throw std::runtime_error(path + ": expected at least one \"train\" row, found none");
  return ModularData{p, op, make_split(train_ab, p, op), make_split(val_ab, p, op)};
}

}  // namespace pathgrad::nn::data
