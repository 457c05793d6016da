// What lessons 5–7 share: a tiny float64 classifier, a toy data set for it, and a model seen as a
// function of one flat parameter vector θ ∈ R^P (read θ, load θ, take ∇_θ of a probe scalar).
// Header-only: every lesson's program, solutions and test include it.
#pragma once

#include <cmath>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "autograd/engine.hpp"
#include "autograd/ops.hpp"
#include "explaind/param_layout.hpp"
#include "explaind/probes.hpp"
#include "nn/init.hpp"
#include "nn/linear.hpp"
#include "nn/module.hpp"
#include "tensor/kernels.hpp"
#include "tensor/random.hpp"

namespace pathgrad::course {

enum class Activation { Tanh, Relu };

// in -> hidden -> classes; forward returns log-probabilities [B, classes].
struct TinyMlp : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2;
  Activation activation;
  TinyMlp(int64_t in, int64_t hidden, int64_t classes, Activation a) : activation(a) {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(in, hidden));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, classes));
  }
  // The first layer's pre-activations z = W1·x + b1: [B, hidden]. Where they change sign, ReLU kinks.
  Tensor preactivation(const Tensor& x) { return fc1->forward(flatten(x)); }
  Tensor forward(const Tensor& x) override {
    const Tensor z = preactivation(x);
    const Tensor h = activation == Activation::Relu ? relu(z) : tanh(z);
    return log_softmax(fc2->forward(h), 1);
  }
};

// A float64 TinyMlp with weights drawn from `seed` (the same seed gives the same weights).
inline std::unique_ptr<TinyMlp> make_tiny_mlp(int64_t in, int64_t hidden, int64_t classes, Activation a,
                                              uint64_t seed) {
  nn::manual_seed(seed);
  auto model = std::make_unique<TinyMlp>(in, hidden, classes, a);
  model->to(DType::Float64);
  return model;
}

// A toy problem in the plane: n points x ~ N(0, I) [n, 2] (float64), labelled by which third of
// the circle their angle falls in (int64 [n], classes 0..2). Not linearly separable.
struct PlanePoints {
  Tensor x, y;
};
inline PlanePoints sector_points(int64_t n, uint64_t seed) {
  Generator g(seed);
  const Tensor x = rand_normal({n, 2}, 0, 1, g, DType::Float64);
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) {
    const double angle = std::atan2(x.at({i, 1}), x.at({i, 0})) + std::numbers::pi;  // [0, 2π]
    labels[i] = std::min<int64_t>(2, static_cast<int64_t>(angle / (2 * std::numbers::pi / 3)));
  }
  return {x, Tensor::from_vector(labels, {n})};
}

// A model as a function of θ: its parameters, in the optimizer's order, as one float64 vector [P].
class FlatView {
 public:
  explicit FlatView(const nn::Module& model) : params_(model.named_parameters()), layout_(params_) {}
  int64_t size() const { return layout_.size(); }
  const explaind::ParamLayout& layout() const { return layout_; }
  const NamedTensors& params() const { return params_; }
  Tensor theta() const { return layout_.flatten(params_); }                 // a copy, float64 [P]
  void load(const Tensor& theta) const { layout_.assign(theta, params_); }  // in place
  // ∇_θ of a one-element tensor computed from the model's parameters: float64 [P].
  Tensor gradient(const Tensor& scalar) const {
    std::vector<Tensor> leaves;
    for (const auto& [name, p] : params_) leaves.push_back(p);
    const std::vector<Tensor> g = grad({scalar}, leaves);
    Tensor flat = Tensor::zeros({layout_.size()}, DType::Float64);
    for (size_t i = 0; i < g.size(); ++i)
      layout_.segment(flat, static_cast<int64_t>(i)).copy_(kernel::reshape(g[i].to(DType::Float64), {-1}));
    return flat;
  }

 private:
  NamedTensors params_;
  explaind::ParamLayout layout_;
};

// log p(label | x) of one input x [in] (a graph is recorded: pass it to FlatView::gradient).
inline Tensor log_prob(nn::Module& model, const Tensor& x, int64_t label) {
  return select(select(model.forward(unsqueeze(x, 0)), 0, 0), 0, label);
}

// Row i of a [N, ...] tensor, as [...].
inline Tensor row(const Tensor& t, int64_t i) { return kernel::squeeze(kernel::narrow(t, 0, i, 1), 0); }

// A probe set on log p(label) of each input x [M, ...] with labels y [M].
inline explaind::ProbeSet label_probes(const std::string& name, const Tensor& x, const Tensor& y, bool sample_level) {
  explaind::ProbeSet set;
  set.name = name;
  set.x = x;
  set.y = y;
  set.sample_level = sample_level;
  return set;
}

inline double dot(const Tensor& a, const Tensor& b) { return kernel::sum(kernel::mul(a, b)).item(); }

}  // namespace pathgrad::course
