// Seeded random numbers whose stream is identical on every machine and compiler.
//
// The generator is xoshiro256** (Blackman & Vigna), seeded through splitmix64 from one 64-bit seed.
// uniform() takes the top 53 bits of the next output: k * 2^-53 in [0, 1). normal() uses the
// Box–Muller transform on two uniforms (caching the second value). We do not use <random>'s
// distributions, whose outputs differ between standard libraries.
#pragma once

#include <array>
#include <cstdint>

#include "tensor/tensor.hpp"

namespace pathgrad {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);
  uint64_t next_u64();
  double uniform();                      // [0, 1)
  double uniform(double lo, double hi);  // [lo, hi)
  double normal(double mean = 0.0, double stddev = 1.0);
  int64_t randint(int64_t n);  // uniform in [0, n), unbiased (rejection sampling)

  // The complete state, for checkpoints: restoring it continues the same stream.
  struct State {
    std::array<uint64_t, 4> s;
    bool has_spare;
    double spare;
  };
  State state() const { return {s_, has_spare_, spare_}; }
  void set_state(const State& st) {
    s_ = st.s;
    has_spare_ = st.has_spare;
    spare_ = st.spare;
  }

 private:
  std::array<uint64_t, 4> s_{};
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// Tensors filled from a generator, element by element in row-major order.
Tensor rand_uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype = DType::Float32);
Tensor rand_normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype = DType::Float32);
// A uniformly random permutation of 0..n-1 (Fisher–Yates), as int64.
Tensor randperm(int64_t n, Generator& gen);

}  // namespace pathgrad
