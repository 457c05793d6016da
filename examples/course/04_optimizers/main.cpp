// Lesson 4: optimizers as linear forms. The same small MLP is trained three times — SGD, SGD with
// momentum, AdamW, all with weight decay — while an observer rebuilds every update from the
// optimizer's StepDescription (exercise 4.4) and measures how far it is from the real one. The
// update then splits into a data part (linear in the gradients) and a decay part.
//
//   ./build/examples/course/lesson_04_optimizers [output directory, default runs/course/04_optimizers]
//
// Writes loss.png (training loss of the three optimizers) and step_parts.png (the size of the data
// and decay parts of each step).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.hpp"
#include "examples/course/04_optimizers/exercises.hpp"
#include "explaind/report/line_plot.hpp"
#include "nn/nn.hpp"
#include "optim/adam.hpp"
#include "optim/sgd.hpp"
#include "tensor/kernels.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

namespace {

constexpr int kSteps = 150;

double norm(const Tensor& t) { return std::sqrt(K::sum(K::mul(t, t)).item()); }
double max_abs(const Tensor& t) { return K::amax(K::abs(t)).item(); }

// Watches an optimizer: before each step it keeps θ_s and g_s; after it, rebuilds Δθ from the
// description and records the error and the sizes of the data and decay parts. The error is
// measured in roundings of θ (2⁻⁵³·max|θ_s|): reading Δθ = θ_{s+1} − θ_s back costs one.
class LinearFormCheck : public optim::StepObserver {
 public:
  double worst_error_in_roundings = 0;
  std::vector<double> data_norm, decay_norm;  // per step, over all parameters
  std::vector<optim::ParamStep> first_steps;  // fc1.weight's description at steps 0 and 1

  void before_step(const optim::Optimizer& opt) override {
    theta_.clear();
    grads_.clear();
    for (const auto& [name, p] : opt.named_parameters()) {
      theta_.push_back(p.detach().clone());
      grads_.push_back(p.grad().clone());  // g_s (no gradient clipping here: factor 1)
    }
  }

  void after_step(const optim::Optimizer& opt, const optim::StepDescription& desc) override {
    const NamedTensors params = opt.named_parameters();
    buffers_.resize(params.size());
    double data2 = 0, decay2 = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      const optim::ParamStep& ps = desc.params.at(i);
      const Tensor actual = K::sub(params[i].second.detach(), theta_[i]);
      const Tensor described = course::delta_from_description(ps, buffers_[i], grads_[i]);
      const double rounding = std::ldexp(max_abs(theta_[i]), -53);
      worst_error_in_roundings = std::max(worst_error_in_roundings, max_abs(K::sub(described, actual)) / rounding);
      const Tensor decay = ps.non_data.defined() ? ps.non_data : Tensor::zeros(actual.shape(), actual.dtype());
      data2 += std::pow(norm(K::sub(described, decay)), 2);
      decay2 += std::pow(norm(decay), 2);
      if (i == 0 && desc.step < 2) first_steps.push_back(ps);
    }
    data_norm.push_back(std::sqrt(data2));
    decay_norm.push_back(std::sqrt(decay2));
  }

 private:
  std::vector<Tensor> theta_, grads_, buffers_;
};

// Three Gaussian blobs in 2-D: x float64 [180, 2], labels int64 [180].
struct Blobs {
  Tensor x, y;
};
Blobs make_blobs() {
  Generator gen(11);
  std::vector<double> xs;
  std::vector<int64_t> ys;
  const double centers[3][2] = {{-2, 0}, {2, 0}, {0, 2.5}};
  for (int64_t i = 0; i < 180; ++i) {
    xs.push_back(centers[i % 3][0] + gen.normal(0, 0.7));
    xs.push_back(centers[i % 3][1] + gen.normal(0, 0.7));
    ys.push_back(i % 3);
  }
  return {Tensor::from_vector(xs, {180, 2}, DType::Float64), Tensor::from_vector(ys, {180})};
}

// The same float64 MLP (2 -> 16 -> 3) every time.
std::shared_ptr<nn::Sequential> make_model() {
  nn::manual_seed(0);
  auto model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(2, 16), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(16, 3)});
  model->to(DType::Float64);
  return model;
}

struct Result {
  std::string name;
  std::vector<double> loss;
  LinearFormCheck check;
};

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(const NamedTensors&)>;

// Full-batch training with the observer attached.
void train(const Blobs& data, const MakeOptimizer& make, Result& r) {
  const std::shared_ptr<nn::Sequential> model = make_model();
  const std::unique_ptr<optim::Optimizer> opt = make(model->named_parameters());
  opt->add_observer(&r.check);
  for (int s = 0; s < kSteps; ++s) {
    opt->zero_grad();
    const Tensor loss = nn::cross_entropy(model->forward(data.x), data.y);
    loss.backward();
    opt->step();
    r.loss.push_back(loss.item());
  }
  opt->remove_observer(&r.check);
}

std::string coefficient(const optim::Coefficient& c) {
  if (!c.elementwise.defined()) return fmt::format("{:+.4g}", c.scale);
  const Tensor v = K::mul_scalar(c.elementwise, c.scale);
  return fmt::format("elementwise in [{:+.4g}, {:+.4g}]", K::amin(v).item(), K::amax(v).item());
}

void print_result(const Result& r) {
  fmt::print("{}: loss {:.3f} -> {:.3f}; max |Δθ − linear form| = {:.1f} roundings of θ\n", r.name, r.loss.front(),
             r.loss.back(), r.check.worst_error_in_roundings);
  for (const optim::ParamStep& ps : r.check.first_steps)
    fmt::print("    {}: buffer_decay {:.3g}, grad_scale {:.3g}, buffer_coef {}, direct_coef {}, non_data {}\n", ps.name,
               ps.buffer_decay, ps.grad_scale, coefficient(ps.buffer_coef), coefficient(ps.direct_coef),
               ps.non_data.defined() ? fmt::format("|.| = {:.2e}", norm(ps.non_data)) : "none");
}

void plot(const std::string& dir, const std::vector<Result>& results) {
  std::vector<double> steps;
  for (int s = 1; s <= kSteps; ++s) steps.push_back(s);
  explaind::report::LinePlot loss;
  loss.title("full-batch training loss, 2-16-3 MLP on three blobs (float64)")
      .xlabel("step")
      .ylabel("cross-entropy")
      .y_scale(explaind::report::Scale::Log);
  explaind::report::LinePlot parts;
  parts.title("size of each step: data part vs weight-decay part")
      .xlabel("step")
      .ylabel("||part of Δθ||")
      .y_scale(explaind::report::Scale::Log)
      .legend(explaind::report::LegendPosition::Outside);
  for (const Result& r : results) {
    loss.add_series(r.name, steps, r.loss);
    parts.add_series(r.name + ": data", steps, r.check.data_norm);
    parts.add_series(r.name + ": decay", steps, r.check.decay_norm);
  }
  loss.render(dir + "/loss.png");
  parts.size(1100, 600).render(dir + "/step_parts.png");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "runs/course/04_optimizers";
  try {
    const Blobs data = make_blobs();
    std::vector<Result> results(3);
    results[0].name = "SGD";
    results[1].name = "SGD + momentum";
    results[2].name = "AdamW";
    train(
        data,
        [](const NamedTensors& p) {
          return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.1).weight_decay(1e-2));
        },
        results[0]);
    train(
        data,
        [](const NamedTensors& p) {
          return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-2));
        },
        results[1]);
    train(
        data,
        [](const NamedTensors& p) {
          return std::make_unique<optim::AdamW>(p, optim::AdamWOptions(1e-2).weight_decay(1e-1));
        },
        results[2]);
    for (const Result& r : results) print_result(r);
    plot(dir, results);
    // Rebuilt in float64 from float64 steps: only a few roundings separate the two (the bound of
    // tests/course/test_04_optimizers.cpp); a wrong coefficient would miss by orders of magnitude.
    for (const Result& r : results)
      if (!(r.check.worst_error_in_roundings <= 16))
        throw std::runtime_error(r.name + ": the linear form does not reproduce the update");
    fmt::print("every update equals its linear form to rounding\nwrote {0}/loss.png and {0}/step_parts.png\n", dir);
  } catch (const std::exception& e) {
    fmt::print(stderr, "lesson_04_optimizers: {}\n", e.what());
    return 1;
  }
  return 0;
}
