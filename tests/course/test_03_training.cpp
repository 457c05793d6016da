// Lesson 3's exercises (examples/course/03_training/exercises.hpp) against independent answers:
// accuracy against a loop over the rows, the hand-built cross-entropy against nn::cross_entropy
// (value and gradient, float64), and the training loop on synthetic data: its loss falls, and a
// run stopped at a checkpoint and resumed in fresh objects ends with the same weights, bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <vector>

#include "autograd/ops.hpp"
#include "examples/course/03_training/exercises.hpp"
#include "nn/nn.hpp"
#include "optim/checkpoint.hpp"
#include "optim/sgd.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;
namespace K = pathgrad::kernel;

namespace {

double max_diff(const Tensor& a, const Tensor& b) { return K::amax(K::abs(K::sub(a, b))).item(); }

// Three Gaussian blobs in 2-D, 60 points each: x float32 [180, 2], y int64 [180].
struct Blobs {
  Tensor x, y;
  Blobs() {
    Generator gen(11);
    std::vector<double> xs;
    std::vector<int64_t> ys;
    const double centers[3][2] = {{-2, 0}, {2, 0}, {0, 2.5}};
    for (int64_t i = 0; i < 180; ++i) {
      const int64_t c = i % 3;
      xs.push_back(centers[c][0] + gen.normal(0, 0.7));
      xs.push_back(centers[c][1] + gen.normal(0, 0.7));
      ys.push_back(c);
    }
    x = Tensor::from_vector(xs, {180, 2}, DType::Float32);
    y = Tensor::from_vector(ys, {180});
  }
};

// A 2 -> 16 -> 3 MLP with SGD + momentum and a shuffling loader, built identically every time.
struct Run {
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<optim::SGD> optimizer;
  std::unique_ptr<nn::data::DataLoader> loader;
  explicit Run(const nn::data::Dataset& set) {
    nn::manual_seed(4);
    model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(2, 16), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(16, 3)});
    optimizer = std::make_unique<optim::SGD>(model->named_parameters(), optim::SGDOptions(0.1).momentum(0.9));
    loader = std::make_unique<nn::data::DataLoader>(set, nn::data::DataLoaderOptions(32).shuffle(true).seed(2));
  }
  std::vector<double> train(int64_t steps) { return course::train_steps(*model, *optimizer, *loader, steps); }
};

}  // namespace

TEST_CASE("3.1 accuracy counts the rows whose largest logit is the label") {
  Generator gen(1);
  const Tensor logits = rand_normal({50, 4}, 0, 1, gen, DType::Float64);
  std::vector<int64_t> labels;
  for (int64_t b = 0; b < 50; ++b) labels.push_back(gen.randint(4));
  int64_t correct = 0;
  for (int64_t b = 0; b < 50; ++b) {
    int64_t best = 0;
    for (int64_t c = 1; c < 4; ++c)
      if (logits.at({b, c}) > logits.at({b, best})) best = c;
    correct += best == labels[b];
  }
  // Both are k/50 computed as a division of two exact integers: equal.
  CHECK(course::accuracy(logits, Tensor::from_vector(labels, {50})) == static_cast<double>(correct) / 50.0);
  CHECK(course::accuracy(logits.to(DType::Float32), Tensor::from_vector(labels, {50})) ==
        static_cast<double>(correct) / 50.0);
}

TEST_CASE("3.2 the hand-built cross-entropy equals nn::cross_entropy, value and gradient") {
  Generator gen(2);
  const Tensor logits = rand_normal({8, 5}, 0, 3, gen, DType::Float64).set_requires_grad();
  std::vector<int64_t> labels;
  for (int64_t b = 0; b < 8; ++b) labels.push_back(gen.randint(5));
  const Tensor y = Tensor::from_vector(labels, {8});
  const Tensor ours = course::cross_entropy_by_hand(logits, y), lib = nn::cross_entropy(logits, y);
  CHECK(ours.dim() == 0);
  // Both are means of 8 terms logsumexp − logit of size <= ~15 in float64: a few ulps apart.
  CHECK(std::abs(ours.item() - lib.item()) < 1e-14);
  const Tensor g_ours = grad({ours}, {logits})[0], g_lib = grad({lib}, {logits})[0];
  CHECK(max_diff(g_ours, g_lib) < 1e-15);  // (softmax − one-hot)/8: entries below 1/8
}

TEST_CASE("3.3 the training loop lowers the loss, and resuming from a checkpoint changes nothing") {
  const Blobs blobs;
  const nn::data::TensorDataset set(blobs.x, blobs.y);
  Run straight(set);
  const std::vector<double> losses = straight.train(60);  // 60 steps of 32 (about 11 epochs)
  REQUIRE(losses.size() == 60);
  CHECK(straight.optimizer->steps_taken() == 60);
  // The blobs are nearly separable: the loss starts near log 3 = 1.1 and must fall far below it.
  double last10 = 0;
  for (size_t i = 50; i < 60; ++i) last10 += losses[i] / 10;
  CHECK(losses[0] > 0.5);
  CHECK(last10 < 0.4 * losses[0]);
  {
    NoGradGuard no_grad;
    CHECK(course::accuracy(straight.model->forward(blobs.x), blobs.y) > 0.9);
  }

  const std::string dir = (std::filesystem::temp_directory_path() / "pathgrad_course_03_checkpoint").string();
  std::filesystem::remove_all(dir);
  Run first(set);
  first.train(25);  // stops inside an epoch (6 batches per epoch)
  optim::save_checkpoint(dir, *first.model, *first.optimizer, *first.loader);
  Run resumed(set);
  optim::load_checkpoint(dir, *resumed.model, *resumed.optimizer, *resumed.loader);
  const std::vector<double> rest = resumed.train(35);
  for (size_t i = 0; i < rest.size(); ++i) CHECK(rest[i] == losses[25 + i]);  // bit for bit
  const NamedTensors a = straight.model->state_dict(), b = resumed.model->state_dict();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].second.to_vector() == b[i].second.to_vector());
  std::filesystem::remove_all(dir);
}
