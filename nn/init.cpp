// Parameter initialisation: the default generator and the fill functions.
#include "nn/init.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace pathgrad::nn {

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().reseed(seed); }

Generator& generator_or_default(Generator* gen) { return gen ? *gen : default_generator(); }

namespace init {
namespace {
void check_float(const Tensor& t, const char* op) {
  if (!t.defined()) throw std::invalid_argument(fmt::format("nn::init::{}: undefined tensor", op));
  if (!t.is_floating_point()) throw_dtype_error(fmt::format("nn::init::{}", op), t.dtype(), "float32 or float64");
}
}  // namespace

void uniform_(const Tensor& t, double lo, double hi, Generator& gen) {
  check_float(t, "uniform_");
  if (!(lo <= hi)) throw std::invalid_argument(fmt::format("nn::init::uniform_: lo {} > hi {}", lo, hi));
  t.copy_(rand_uniform(t.shape(), lo, hi, gen, t.dtype()));
}

void normal_(const Tensor& t, double mean, double stddev, Generator& gen) {
  check_float(t, "normal_");
  if (!(stddev >= 0)) throw std::invalid_argument(fmt::format("nn::init::normal_: stddev {} is negative", stddev));
  t.copy_(rand_normal(t.shape(), mean, stddev, gen, t.dtype()));
}

void zeros_(const Tensor& t) {
  check_float(t, "zeros_");
  t.fill_(0.0);
}

void ones_(const Tensor& t) {
  check_float(t, "ones_");
  t.fill_(1.0);
}

int64_t calculate_fan_in(const Tensor& t) {
  if (!t.defined() || t.dim() < 2)
    throw std::invalid_argument(fmt::format("nn::init::calculate_fan_in: needs a tensor of at least 2 dims, got {}",
                                            t.defined() ? shape_str(t.shape()) : "an undefined tensor"));
  int64_t fan_in = t.size(1);
  for (int64_t d = 2; d < t.dim(); ++d) fan_in *= t.size(d);
  return fan_in;
}

void kaiming_uniform_(const Tensor& t, double a, std::optional<int64_t> fan_in, Generator& gen) {
  check_float(t, "kaiming_uniform_");
  const int64_t fan = fan_in ? *fan_in : calculate_fan_in(t);
  if (fan <= 0) throw std::invalid_argument(fmt::format("nn::init::kaiming_uniform_: fan_in {} must be positive", fan));
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  const double bound = std::sqrt(3.0) * gain / std::sqrt(static_cast<double>(fan));
  uniform_(t, -bound, bound, gen);
}

void default_affine_(const Tensor& weight, const Tensor& bias, Generator& gen) {
  const int64_t fan_in = calculate_fan_in(weight);
  kaiming_uniform_(weight, std::sqrt(5.0), fan_in, gen);
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    uniform_(bias, -bound, bound, gen);
  }
}

}  // namespace init
}  // namespace pathgrad::nn
