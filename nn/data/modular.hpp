// Modular arithmetic data (the grokking task): pairs (a, b) of residues mod p with the result
// (a op b) mod p, tokenised and split into training and validation sets.
//
// Operations: + and − and × for any p >= 2; ÷ (a · b⁻¹ mod p) requires a prime p and b != 0.
// Tokens: an example is the sequence [a, op, b, =] over a vocabulary of p + 2 tokens: 0..p-1 are
// the residues, p is the operation's token and p + 1 is '='. The target is the result token.
//
// Pairs: with ordered_pairs(false) (the default, the paper's choice) only pairs with a >= b —
// p(p+1)/2 of them, 6,441 for p = 113 — else all p² ordered pairs; for ÷ pairs with b = 0 are left
// out. Before splitting they are listed a-major: a = 0..p-1, and for each a, b ascending.
//
// The split rule, exactly: draw perm = randperm(M, Generator(seed)) over the M listed pairs; the
// pairs at perm[0 .. n_val) form the validation set and those at perm[n_val .. n_val + n_train)
// the training set, both in that order; the pairs after them are unused. (The paper: p = 113,
// 2,000 validation pairs and 4,000 training pairs from the rest.) n_val + n_train <= M is checked.
//
// save_csv() writes which pairs were used; load_modular_csv() reads them back and re-checks every
// result, so a run can be reproduced — or inspected — without this code.
#pragma once

#include <cstdint>
#include <string>

#include "nn/data/dataset.hpp"
#include "nn/options.hpp"

namespace pathgrad::nn::data {

enum class ModularOp { Add, Sub, Mul, Div };
// "+", "-", "*", "/"
const char* modular_op_symbol(ModularOp op);

class ModularOptions {
  PATHGRAD_ARG(int64_t, p) = 113;
  PATHGRAD_ARG(ModularOp, op) = ModularOp::Add;
  PATHGRAD_ARG(bool, ordered_pairs) = false;
  PATHGRAD_ARG(int64_t, n_train) = 4000;
  PATHGRAD_ARG(int64_t, n_val) = 2000;
  PATHGRAD_ARG(uint64_t, seed) = 0;
};

// One split: N examples.
struct ModularSplit {
  Tensor pairs;  // int64 [N, 2]: (a, b)
  Tensor x;      // int64 [N, 4]: tokens a, p (the op), b, p + 1 ('=')
  Tensor y;      // int64 [N]: (a op b) mod p
  int64_t size() const { return y.size(0); }
  TensorDataset dataset() const { return TensorDataset(x, y); }
};

struct ModularData {
  int64_t p = 0;
  ModularOp op = ModularOp::Add;
  ModularSplit train, val;
  int64_t vocab_size() const { return p + 2; }
  // Writes "split,index,a,b,result" and one row per example (split "train" or "val", index within
  // the split), training rows first, atomically. Throws std::runtime_error naming the path.
  void save_csv(const std::string& path) const;
};

// (a op b) mod p for residues a, b in [0, p). Throws std::invalid_argument for ÷ by 0.
int64_t modular_result(int64_t a, int64_t b, int64_t p, ModularOp op);

// The split described in the header comment. Throws std::invalid_argument when p < 2 or
// p >= 2^31, when ÷ is asked with a composite p, or when the sizes are negative, n_train is 0, or
// n_val + n_train exceeds the number of pairs (the message gives both).
ModularData make_modular_data(const ModularOptions& options);

// Reads a file written by save_csv() for the given p and op. Throws std::runtime_error naming the
// path and line for a wrong header, a malformed row, a split other than train/val, indices not
// counting 0, 1, 2, ... within each split, a residue outside [0, p), or a result that is not
// (a op b) mod p (expected vs found).
ModularData load_modular_csv(const std::string& path, int64_t p, ModularOp op);

}  // namespace pathgrad::nn::data
