// Lesson 7, influence: reference solutions of exercises.hpp.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "examples/course/07_influence/exercises.hpp"
#include "examples/course/common/flat_model.hpp"
#include "nn/loss.hpp"
#include "optim/sgd.hpp"

namespace pathgrad::course {

std::vector<int64_t> top_k(const std::vector<double>& influence, int64_t k, bool largest) {
  std::vector<int64_t> order(influence.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return largest ? influence[a] > influence[b] : influence[a] < influence[b];
  });
  order.resize(std::min<size_t>(order.size(), static_cast<size_t>(std::max<int64_t>(k, 0))));
  return order;
}

namespace {

// Ranks 1..n, ties sharing the mean of their ranks.
std::vector<double> ranks(const std::vector<double>& v) {
  const std::vector<int64_t> order = top_k(v, static_cast<int64_t>(v.size()), false);
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t t = i; t <= j; ++t) r[order[t]] = (static_cast<double>(i + j) / 2.0) + 1.0;
    i = j + 1;
  }
  return r;
}

}  // namespace

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size() || a.size() < 2) throw std::invalid_argument("spearman: needs two vectors of one size >= 2");
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double mean = (static_cast<double>(a.size()) + 1.0) / 2.0;  // the mean rank, ties or not
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  if (saa == 0 || sbb == 0) throw std::invalid_argument("spearman: a vector is constant");
  return sab / std::sqrt(saa * sbb);
}

double trained_value(const FullBatchProblem& problem, const std::vector<int64_t>& keep, const Tensor& probe_x,
                     int64_t probe_label) {
  auto model = make_tiny_mlp(problem.in, problem.hidden, problem.classes, Activation::Relu, problem.seed);
  const Tensor ids = Tensor::from_vector(keep, {static_cast<int64_t>(keep.size())});
  const Tensor x = kernel::index_select(problem.x, 0, ids), y = kernel::index_select(problem.y, 0, ids);
  optim::SGD opt(model->named_parameters(), optim::SGDOptions(problem.lr));
  for (int s = 0; s < problem.steps; ++s) {
    opt.zero_grad();
    nn::nll_loss(model->forward(x), y, nn::Reduction::Sum).backward();
    opt.step();
  }
  NoGradGuard no_grad;
  return log_prob(*model, probe_x, probe_label).item();
}

}  // namespace pathgrad::course
