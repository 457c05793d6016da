// Lesson 2: reverse-mode autodiff. One neuron, o = tanh(w1·x1 + w2·x2 + b), differentiated three
// ways — by hand (exercise 2.1), with the scalar Value class of value.hpp, and with pathgrad's
// engine, whose recorded graph is printed — then gradient checks of the two operations the
// exercises add to the engine (softplus, feature_gain).
//
//   ./build/examples/course/lesson_02_autodiff [output directory, default runs/course/02_autodiff]
//
// Writes softplus.png (the new op and the gradient the engine computes for it) and
// finite_differences.png (why gradients are checked in float64 with eps ~ 1e-6).
#include <fmt/format.h>

#include <cmath>
#include <exception>
#include <string>
#include <vector>

#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "examples/course/02_autodiff/exercises.hpp"
#include "explaind/report/line_plot.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;

namespace {

// micrograd's example neuron: inputs, weights and a bias chosen so that n = 0.8814 and o = 0.7071.
constexpr double kX1 = 2.0, kX2 = 0.0, kW1 = -3.0, kW2 = 1.0, kB = 6.8813735870195432;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

void print_grads(const char* how, double w1, double w2, double b) {
  fmt::print("  {:<22} do/dw1 = {:+.6f}  do/dw2 = {:+.6f}  do/db = {:+.6f}\n", how, w1, w2, b);
}

// The neuron with Value: every + * tanh records its parents and local derivatives.
course::NeuronGrads neuron_with_values() {
  const course::Value x1(kX1), x2(kX2), w1(kW1), w2(kW2), b(kB);
  const course::Value o = tanh(w1 * x1 + w2 * x2 + b);
  o.backward();
  fmt::print("  Value: o = {:.6f}\n", o.data());
  return {w1.grad(), w2.grad(), b.grad()};
}

// Prints the graph the engine recorded below t: one line per node, leaves as their values.
void print_graph(const Tensor& t, int depth = 0) {
  const std::string indent(static_cast<size_t>(2 * depth + 4), ' ');
  if (!t.grad_fn()) {
    fmt::print("{}leaf {} (requires_grad)\n", indent, t.item());
    return;
  }
  fmt::print("{}{}  -> {:.6f}\n", indent, t.grad_fn()->name, t.item());
  for (const Tensor& in : t.grad_fn()->inputs)
    if (in.defined()) print_graph(in, depth + 1);  // undefined slots: operands without gradient
}

// The neuron with pathgrad: 0-d float64 tensors; only the weights and bias require grad.
course::NeuronGrads neuron_with_engine() {
  const auto scalar = [](double v) { return Tensor::scalar(v, DType::Float64); };
  const Tensor x1 = scalar(kX1), x2 = scalar(kX2);
  Tensor w1 = scalar(kW1).set_requires_grad(), w2 = scalar(kW2).set_requires_grad(), b = scalar(kB).set_requires_grad();
  const Tensor o = tanh(w1 * x1 + w2 * x2 + b);
  fmt::print("  the graph pathgrad recorded (output first):\n");
  print_graph(o);
  o.backward();
  return {w1.grad().item(), w2.grad().item(), b.grad().item()};
}

void check_same(const course::NeuronGrads& a, const course::NeuronGrads& b, const char* what) {
  const double diff = std::max({std::abs(a.w1 - b.w1), std::abs(a.w2 - b.w2), std::abs(a.b - b.b)});
  require(diff < 1e-15, fmt::format("{} differ by {}", what, diff));
}

void show_neuron() {
  fmt::print("== 1. one neuron, o = tanh(w1*x1 + w2*x2 + b), three ways ==\n");
  const course::NeuronGrads by_hand = course::neuron_grads_by_hand(kX1, kX2, kW1, kW2, kB);
  const course::NeuronGrads values = neuron_with_values();
  const course::NeuronGrads engine = neuron_with_engine();
  print_grads("by hand (2.1):", by_hand.w1, by_hand.w2, by_hand.b);
  print_grads("Value.backward():", values.w1, values.w2, values.b);
  print_grads("pathgrad backward():", engine.w1, engine.w2, engine.b);
  check_same(by_hand, values, "hand and Value gradients");
  check_same(by_hand, engine, "hand and engine gradients");
  fmt::print("  all three agree\n\n");
}

// gradcheck: the engine's gradients against central differences, in float64.
void check_new_ops() {
  fmt::print("== 2. new ops, checked with gradcheck (float64 central differences) ==\n");
  Generator gen(2);
  const Tensor x = rand_uniform({4, 5}, -3, 3, gen, DType::Float64).set_requires_grad();
  const Tensor gain = rand_uniform({5}, 0.5, 2, gen, DType::Float64).set_requires_grad();
  const GradcheckResult sp = gradcheck([](const std::vector<Tensor>& in) { return course::softplus(in[0]); }, {x});
  const GradcheckResult fg =
      gradcheck([](const std::vector<Tensor>& in) { return course::feature_gain(in[0], in[1]); }, {x, gain});
  fmt::print("  softplus:     {} (max |analytic - numerical| {:.1e})\n", sp.ok ? "ok" : sp.message, sp.max_abs_error);
  fmt::print("  feature_gain: {} (max |analytic - numerical| {:.1e})\n\n", fg.ok ? "ok" : fg.message, fg.max_abs_error);
  require(sp.ok && fg.ok, "gradcheck failed");
}

std::vector<double> grid(double lo, double hi, int n) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(lo + (hi - lo) * i / (n - 1));
  return v;
}

// softplus, relu and the engine's gradient of softplus on [-6, 6].
void plot_softplus(const std::string& dir) {
  const std::vector<double> xs = grid(-6, 6, 241);
  const Tensor x = Tensor::from_vector(xs, {241}, DType::Float64).set_requires_grad();
  const Tensor y = course::softplus(x);
  sum(y).backward();  // d(Σ softplus)/dx_i = softplus'(x_i)
  explaind::report::LinePlot()
      .title("softplus(x) = log(1 + e^x) and the gradient the engine computes")
      .xlabel("x")
      .legend(explaind::report::LegendPosition::TopLeft)
      .add_series("softplus(x)", xs, y.to_vector())
      .add_series("relu(x)", xs, relu(x.detach()).to_vector())
      .add_series("d softplus/dx from backward() = sigmoid(x)", xs, x.grad().to_vector())
      .render(dir + "/softplus.png");
}

// |central difference − exact derivative| of softplus at x = 0.5 against the step eps.
std::vector<double> fd_errors(const std::vector<double>& steps, DType dtype) {
  const double x = 0.5, exact = 1.0 / (1.0 + std::exp(-x));
  const auto f = [&](double at) { return course::softplus(Tensor::scalar(at, dtype)).item(); };
  std::vector<double> err;
  for (double eps : steps) err.push_back(std::abs((f(x + eps) - f(x - eps)) / (2 * eps) - exact));
  return err;
}

void plot_finite_differences(const std::string& dir) {
  std::vector<double> steps;
  for (int k = 2; k <= 26; ++k) steps.push_back(std::pow(10.0, -k / 2.0));
  const std::vector<double> e64 = fd_errors(steps, DType::Float64), e32 = fd_errors(steps, DType::Float32);
  explaind::report::LinePlot()
      .title("central differences of softplus at x = 0.5: error against the step")
      .xlabel("step eps")
      .ylabel("|numerical - exact|")
      .log_x()
      .y_scale(explaind::report::Scale::Log)
      .legend(explaind::report::LegendPosition::BottomRight)
      .add_series("float64", steps, e64, explaind::report::SeriesStyle::LinesPoints)
      .add_series("float32", steps, e32, explaind::report::SeriesStyle::LinesPoints)
      .add_marker(1e-6, "gradcheck's eps")
      .render(dir + "/finite_differences.png");
  fmt::print("== 3. finite differences ==\n  error at eps = 1e-6: float64 {:.1e}, float32 {:.1e}\n\n", e64[10],
             e32[10]);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "runs/course/02_autodiff";
  try {
    show_neuron();
    check_new_ops();
    plot_finite_differences(dir);
    plot_softplus(dir);
    fmt::print("wrote {0}/softplus.png and {0}/finite_differences.png\n", dir);
  } catch (const std::exception& e) {
    fmt::print(stderr, "lesson_02_autodiff: {}\n", e.what());
    return 1;
  }
  return 0;
}
