// Parameter initialisation: the global default generator and the in-place fill functions that
// layers use for their defaults (the same distributions as PyTorch's).
//
// Every function writes into an existing float32/float64 tensor in place, element by element in
// row-major order, without recording on the autograd graph; all handles to the tensor see the
// new values. Random fills draw from `gen`, by default the global generator.
#pragma once

#include <cstdint>
#include <optional>

#include "tensor/random.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad::nn {

// The process-wide generator that layers use unless their options name another one. Starts from
// seed 0. Not thread-safe: create layers from one thread, or give each thread its own Generator.
Generator& default_generator();
// Reseeds the default generator: the same seed then builds the same initial weights.
void manual_seed(uint64_t seed);
// *gen, or the default generator when gen is null (how layers read their `generator` option).
Generator& generator_or_default(Generator* gen);

namespace init {

// U[lo, hi)
void uniform_(const Tensor& t, double lo, double hi, Generator& gen = default_generator());
// N(mean, stddev^2)
void normal_(const Tensor& t, double mean = 0.0, double stddev = 1.0, Generator& gen = default_generator());
void zeros_(const Tensor& t);
void ones_(const Tensor& t);

// The number of inputs that feed one output unit: size(1) times the product of dims 2.. —
// in_features for a Linear weight [out, in], C*kh*kw for a Conv2d weight [O, C, kh, kw].
// Throws std::invalid_argument for fewer than 2 dims.
int64_t calculate_fan_in(const Tensor& t);

// He/Kaiming uniform for a leaky ReLU of negative slope `a` (PyTorch's kaiming_uniform_ with
// mode="fan_in"): U[-bound, bound), bound = sqrt(3) * sqrt(2 / (1 + a^2)) / sqrt(fan_in).
// fan_in defaults to calculate_fan_in(t). With a = sqrt(5), PyTorch's default for Linear and
// Conv2d weights, bound = 1/sqrt(fan_in).
void kaiming_uniform_(const Tensor& t, double a = 0.0, std::optional<int64_t> fan_in = std::nullopt,
                      Generator& gen = default_generator());

// PyTorch's default for the weight [out, in, ...] and optional bias [out] of Linear and Conv2d:
// weight kaiming_uniform_(a = sqrt(5)), i.e. U[-1/sqrt(fan_in), 1/sqrt(fan_in)), then bias from
// the same U[-1/sqrt(fan_in), 1/sqrt(fan_in)). `bias` may be undefined.
void default_affine_(const Tensor& weight, const Tensor& bias, Generator& gen = default_generator());

}  // namespace init
}  // namespace pathgrad::nn
