// EndTable: every end (input, t) evaluated once per set and step, rows returned where asked.
#include <doctest/doctest.h>

#include <vector>

#include "explaind/end_table.hpp"
#include "tensor/kernels.hpp"

using namespace pathgrad;
using namespace pathgrad::explaind;

namespace {
// A stand-in for the forward pass at (input, t): value 10·input + t in both slots, one relu
// call with pre-activation [t, −t], counting the rows it is asked for.
struct CountingPass {
  int64_t rows = 0;
  EndRows operator()(const std::vector<int64_t>& inputs, const std::vector<double>& t) {
    rows += static_cast<int64_t>(t.size());
    const int64_t E = static_cast<int64_t>(t.size());
    std::vector<double> v, z;
    for (int64_t e = 0; e < E; ++e) {
      v.insert(v.end(), 2, 10.0 * static_cast<double>(inputs[e]) + t[e]);
      z.insert(z.end(), {t[e], -t[e]});
    }
    return {Tensor::from_vector(v, {E, 2}, DType::Float64), {Tensor::from_vector(z, {E, 2}, DType::Float64)}, {}};
  }
};

// Checks that row row_of[e] of r is end (inputs[e], t[e]).
void check_rows(const EndRows& r, const std::vector<int64_t>& row_of, const std::vector<int64_t>& inputs,
                const std::vector<double>& t, bool units) {
  REQUIRE(r.values.size(0) == static_cast<int64_t>(inputs.size()));
  for (size_t e = 0; e < inputs.size(); ++e) {
    CHECK(r.values.at({row_of[e], 1}) == 10.0 * static_cast<double>(inputs[e]) + t[e]);
    if (units) CHECK(r.relu.at(0).at({row_of[e], 1}) == -t[e]);
  }
}
}  // namespace

TEST_CASE("an end table evaluates each end once and returns the rows asked for") {
  CountingPass pass;
  const EndTable::Evaluate evaluate = [&](const auto& i, const auto& t) { return pass(i, t); };
  EndTable table(true, size_t{1} << 20);
  std::vector<int64_t> row_of;
  const std::vector<int64_t> in1{0, 0, 1};
  const std::vector<double> t1{0.0, 0.5, 0.5};
  check_rows(table.rows(in1, t1, evaluate, row_of), row_of, in1, t1, true);
  CHECK(pass.rows == 3);
  // Two kept ends (in another order) and one new one: only the new one is evaluated.
  const std::vector<int64_t> in2{1, 2, 0};
  const std::vector<double> t2{0.5, 0.25, 0.0};
  check_rows(table.rows(in2, t2, evaluate, row_of), row_of, in2, t2, true);
  CHECK(pass.rows == 4);
  // Ends kept from passes made elsewhere: rows 0 and 2 of one pass.
  table.add({3, 3, 3}, {0.1, 0.2, 0.3}, pass({3, 3, 3}, {0.1, 0.2, 0.3}), {0, 2});
  CHECK(pass.rows == 7);
  const std::vector<int64_t> in3{3, 3, 3};
  const std::vector<double> t3{0.3, 0.2, 0.1};
  check_rows(table.rows(in3, t3, evaluate, row_of), row_of, in3, t3, true);
  CHECK(pass.rows == 8);                        // (3, 0.2) was not kept
  table.add({4}, {0.5}, pass({4}, {0.5}), {});  // no rows chosen: nothing kept
  const std::vector<int64_t> in4{4};
  const std::vector<double> t4{0.5};
  check_rows(table.rows(in4, t4, evaluate, row_of), row_of, in4, t4, true);
  CHECK(pass.rows == 10);
  table.clear();
  check_rows(table.rows(in1, t1, evaluate, row_of), row_of, in1, t1, true);
  CHECK(pass.rows == 13);
}

TEST_CASE("an end table past its size evaluates again, and keeps only values without units") {
  CountingPass pass;
  const EndTable::Evaluate evaluate = [&](const auto& i, const auto& t) { return pass(i, t); };
  const std::vector<int64_t> in{0, 1};
  const std::vector<double> t{0.0, 1.0};
  std::vector<int64_t> row_of;
  EndTable tiny(true, 16);  // smaller than two rows of values
  tiny.rows(in, t, evaluate, row_of);
  check_rows(tiny.rows(in, t, evaluate, row_of), row_of, in, t, true);
  CHECK(pass.rows == 4);
  EndTable values_only(false, size_t{1} << 20);
  values_only.rows(in, t, evaluate, row_of);
  const EndRows kept = values_only.rows(in, t, evaluate, row_of);
  CHECK(pass.rows == 6);
  check_rows(kept, row_of, in, t, false);
  CHECK(kept.relu.empty());
}
