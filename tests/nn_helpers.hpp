// Helpers shared by the nn/ test files: random float64 tensors, comparisons, error-message checks,
// gradient checks and the per-sample gradient check.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "tensor/random.hpp"

namespace nn_test {
using namespace pathgrad;

inline Tensor rand64(const Shape& shape, Generator& gen, double lo = -1, double hi = 1) {
  return rand_uniform(shape, lo, hi, gen, DType::Float64);
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return kernel::amax(kernel::abs(kernel::sub(a.to(DType::Float64), b.to(DType::Float64)))).item();
}

// Runs f, which must throw E, and checks that the message contains every one of `parts`.
template <class E, class F>
void check_throws_with(F&& f, const std::vector<std::string>& parts) {
  bool thrown = false;
  try {
    f();
  } catch (const E& e) {
    thrown = true;
    const std::string msg = e.what();
    for (const std::string& p : parts) {
      INFO("message: " << msg << "\nexpected to contain: " << p);
      CHECK(msg.find(p) != std::string::npos);
    }
  }
  CHECK(thrown);
}

// gradcheck in float64 with a readable failure.
inline void check_grad(const TensorFunction& f, const std::vector<Tensor>& inputs) {
  GradcheckResult r = gradcheck(f, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

// losses(start, len): the per-sample losses [len] of samples start .. start+len-1 of a batch of B.
// Checks that per_sample_grad over the whole batch matches one backward per sample to 1e-10.
inline void check_per_sample(const std::function<Tensor(int64_t, int64_t)>& losses, int64_t B,
                             const std::vector<Tensor>& params) {
  std::vector<Tensor> ps = per_sample_grad(losses(0, B), params);
  REQUIRE(ps.size() == params.size());
  for (int64_t s = 0; s < B; ++s) {
    std::vector<Tensor> gs = grad({sum(losses(s, 1))}, params);
    for (size_t p = 0; p < params.size(); ++p) {
      Shape expected = params[p].shape();
      expected.insert(expected.begin(), B);
      REQUIRE(ps[p].shape() == expected);
      INFO("sample " << s << ", parameter " << p << " " << shape_str(params[p].shape()));
      CHECK(max_abs_diff(kernel::squeeze(kernel::narrow(ps[p], 0, s, 1), 0), gs[p]) < 1e-10);
    }
  }
}

// Rows start .. start+len-1 of t along dim 0.
inline Tensor rows(const Tensor& t, int64_t start, int64_t len) { return kernel::narrow(t, 0, start, len); }

}  // namespace nn_test
