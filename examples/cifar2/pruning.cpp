// Pruning scores, one-shot global pruning and the evaluation of the pruned models.
#include "examples/cifar2/pruning.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "examples/common/evaluation.hpp"
#include "explaind/param_layout.hpp"
#include "nn/loss.hpp"
#include "tensor/kernels.hpp"
#include "tensor/random.hpp"

namespace pathgrad::cifar2 {

namespace {

namespace K = kernel;
constexpr const char* kNeverPruned = "head.weight";  // the final Linear (the paper's protocol)
constexpr int64_t kBatch = 500;                      // images per forward pass

// Flat indices of the prunable weights: every parameter tensor but the final Linear's.
std::vector<int64_t> prunable_indices(const explaind::ParamLayout& layout) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < layout.count(); ++i)
    if (layout.name(i) != kNeverPruned)
      for (int64_t j = layout.offset(i); j < layout.offset(i) + layout.numel(i); ++j) out.push_back(j);
  return out;
}

// ∂L/∂θ, L the mean NLL of `images` at the model's weights: float64 [P].
Tensor mean_nll_gradient(ResNet9& model, const explaind::ParamLayout& layout, const nn::data::ImageSet& images) {
  model.zero_grad();
  for (int64_t i = 0; i < images.size(); i += kBatch) {
    const int64_t len = std::min(kBatch, images.size() - i);
    nn::nll_loss(model.forward(K::narrow(images.images, 0, i, len)), K::narrow(images.labels, 0, i, len),
                 nn::Reduction::Sum)
        .backward();
  }
  NamedTensors grads;
  for (const auto& [name, p] : model.named_parameters()) grads.emplace_back(name, p.grad());
  model.zero_grad();
  return K::mul_scalar(layout.flatten(grads), 1.0 / static_cast<double>(images.size()));
}

// What a pruned model's outputs [E, C] say against the unpruned ones'.
void compare(const Tensor& out, const Tensor& reference, const Tensor& labels, PruningPoint& point) {
  point.accuracy = examples::accuracy(out, labels);
  point.agreement = K::mean(K::eq(K::argmax(out, 1), K::argmax(reference, 1)).to(DType::Float64)).item();
  point.kl = K::mean(K::kl_div_log(reference.to(DType::Float64), out.to(DType::Float64), 1)).item();
}

}  // namespace

std::vector<PruningScore> pruning_scores(ResNet9& model, const Tensor& epk, const nn::data::ImageSet& importance,
                                         int random_seeds) {
  const explaind::ParamLayout layout(model.named_parameters());
  if (epk.shape() != Shape{layout.size()})
    throw std::invalid_argument(fmt::format("pruning: the EPK score has shape {}, the model {} weights",
                                            shape_str(epk.shape()), layout.size()));
  const Tensor theta = layout.flatten(model.named_parameters());  // [P]
  std::vector<PruningScore> scores = {
      {"epk", -1, epk},
      {"magnitude", -1, K::abs(theta)},
      {"grad_x_weight", -1, K::abs(K::mul(theta, mean_nll_gradient(model, layout, importance)))}};
  for (int seed = 0; seed < random_seeds; ++seed) {
    Generator g(static_cast<uint64_t>(1000 + seed));
    scores.push_back({"random", seed, rand_uniform({layout.size()}, 0, 1, g, DType::Float64)});
  }
  return scores;
}

std::vector<int64_t> prune_order(const explaind::ParamLayout& layout, const Tensor& score) {
  const Tensor s64 = score.to(DType::Float64).contiguous();
  const double* s = s64.data<double>();
  std::vector<int64_t> order = prunable_indices(layout);
  std::stable_sort(order.begin(), order.end(), [s](int64_t a, int64_t b) { return s[a] > s[b]; });
  return order;
}

Tensor keep_mask(const explaind::ParamLayout& layout, const std::vector<int64_t>& order, int64_t kept) {
  Tensor mask = Tensor::full({layout.size()}, 1.0, DType::Float64);
  double* m = mask.data<double>();
  for (size_t i = static_cast<size_t>(std::max<int64_t>(kept, 0)); i < order.size(); ++i) m[order[i]] = 0;
  return mask;
}

std::vector<double> kept_fractions() {
  return {0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3};
}

std::vector<PruningPoint> prune_and_evaluate(ResNet9& model, const std::vector<PruningScore>& scores,
                                             const std::vector<double>& fractions, const nn::data::ImageSet& eval) {
  const NamedTensors params = model.named_parameters();
  const explaind::ParamLayout layout(params);
  const Tensor theta = layout.flatten(params);                             // [P]
  const Tensor reference = examples::outputs(model, eval.images, kBatch);  // [E, C]
  std::vector<PruningPoint> points;
  for (const PruningScore& s : scores) {
    const std::vector<int64_t> order = prune_order(layout, s.score);
    for (double f : fractions) {
      PruningPoint point{s.name, s.seed, f};
      point.kept = std::max<int64_t>(1, std::llround(f * static_cast<double>(order.size())));
      layout.assign(K::mul(theta, keep_mask(layout, order, point.kept)), params);
      compare(examples::outputs(model, eval.images, kBatch), reference, eval.labels, point);
      points.push_back(point);
    }
  }
  layout.assign(theta, params);  // float32 θ round-trips through float64 exactly
  return points;
}

Unpruned unpruned_reference(ResNet9& model, const nn::data::ImageSet& eval) {
  const explaind::ParamLayout layout(model.named_parameters());
  return {static_cast<int64_t>(prunable_indices(layout).size()), layout.size(),
          examples::accuracy(examples::outputs(model, eval.images, kBatch), eval.labels)};
}

}  // namespace pathgrad::cifar2
