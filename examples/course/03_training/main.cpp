// Lesson 3: modules and a training loop. An MLP (784 -> 128 -> 10) learns all ten Fashion-MNIST
// classes from 10,000 training images with AdamW, evaluated on 2,000 test images as it goes. Half
// way it saves a checkpoint; a second, fresh model, optimizer and loader then resume from it and
// must end with exactly the same weights as the run that never stopped.
//
//   ./build/examples/course/lesson_03_training [output directory, default runs/course/03_training]
//
// Reads Debian's dataset-fashion-mnist (installed by scripts/setup.sh). Writes
// training_curves.png (loss and accuracy against the step), checkpoint/ and model.safetensors.
#include <fmt/format.h>

#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.hpp"
#include "examples/course/03_training/exercises.hpp"
#include "explaind/report/plot_grid.hpp"
#include "nn/data/idx.hpp"
#include "nn/nn.hpp"
#include "nn/serialize.hpp"
#include "optim/adam.hpp"
#include "optim/checkpoint.hpp"
#include "tensor/kernels.hpp"

using namespace pathgrad;

namespace {

constexpr int64_t kTrain = 10000, kTest = 2000, kBatch = 100;
constexpr int64_t kSteps = 300, kEvalEvery = 25, kCheckpointAt = 150;

// x [B, 1, 28, 28] -> logits [B, 10]. The seed fixes the initial weights.
struct Mlp : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2;
  explicit Mlp(uint64_t seed) {
    nn::manual_seed(seed);  // the layers draw their initial weights from nn::default_generator()
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(784, 128));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(128, 10));
  }
  Tensor forward(const Tensor& x) override { return fc2->forward(relu(fc1->forward(flatten(x)))); }
};

// Everything a run trains with, built the same way every time.
struct Run {
  Mlp model{0};
  optim::AdamW optimizer;
  nn::data::DataLoader loader;
  explicit Run(const nn::data::Dataset& train)
      : optimizer(model.named_parameters(), optim::AdamWOptions(1e-3).weight_decay(1e-2)),
        loader(train, nn::data::DataLoaderOptions(kBatch).shuffle(true).seed(0)) {}
};

struct Curves {
  std::vector<double> step, train_loss;  // every step
  std::vector<double> eval_step, test_loss, test_accuracy;
  std::vector<double> resumed_step, resumed_loss;  // the resumed run's steps
};

void evaluate(nn::Module& model, const nn::data::ImageSet& test, int64_t step, Curves& c) {
  NoGradGuard no_grad;
  const Tensor logits = model.forward(test.images);  // [2000, 10]
  c.eval_step.push_back(static_cast<double>(step));
  c.test_loss.push_back(course::cross_entropy_by_hand(logits, test.labels).item());
  c.test_accuracy.push_back(course::accuracy(logits, test.labels));
  fmt::print("step {:>3}: test loss {:.3f}, test accuracy {:.1f} %\n", step, c.test_loss.back(),
             100 * c.test_accuracy.back());
}

void append(std::vector<double> losses, int64_t first_step, std::vector<double>& steps, std::vector<double>& out) {
  for (size_t i = 0; i < losses.size(); ++i) {
    steps.push_back(static_cast<double>(first_step + static_cast<int64_t>(i) + 1));
    out.push_back(losses[i]);
  }
}

// The uninterrupted run, evaluated every kEvalEvery steps, saving a checkpoint at kCheckpointAt.
void train_through(Run& run, const nn::data::ImageSet& test, const std::string& checkpoint, Curves& c) {
  evaluate(run.model, test, 0, c);
  while (run.optimizer.steps_taken() < kSteps) {
    const int64_t at = run.optimizer.steps_taken();
    append(course::train_steps(run.model, run.optimizer, run.loader, kEvalEvery), at, c.step, c.train_loss);
    evaluate(run.model, test, run.optimizer.steps_taken(), c);
    if (run.optimizer.steps_taken() == kCheckpointAt) {
      optim::save_checkpoint(checkpoint, run.model, run.optimizer, run.loader, {{"note", "lesson 3"}});
      fmt::print("           saved a checkpoint of step {} in {}\n", kCheckpointAt, checkpoint);
    }
  }
}

// A fresh run resumed from the checkpoint; fails unless its weights end bit for bit equal.
void resume_and_compare(const nn::data::Dataset& train, const Run& reference, const std::string& checkpoint,
                        Curves& c) {
  Run resumed(train);  // new weights (same seed), fresh optimizer and loader
  optim::load_checkpoint(checkpoint, resumed.model, resumed.optimizer, resumed.loader);
  const int64_t from = resumed.optimizer.steps_taken();
  append(course::train_steps(resumed.model, resumed.optimizer, resumed.loader, kSteps - from), from, c.resumed_step,
         c.resumed_loss);
  const NamedTensors a = reference.model.state_dict(), b = resumed.model.state_dict();
  int64_t differing = 0, total = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const std::vector<double> va = a[i].second.to_vector(), vb = b[i].second.to_vector();
    for (size_t j = 0; j < va.size(); ++j) differing += va[j] != vb[j];
    total += static_cast<int64_t>(va.size());
  }
  fmt::print(
      "\nresumed at step {} in a fresh model, optimizer and loader and trained to step {}:\n"
      "  {} of {} weights differ from the uninterrupted run's\n",
      from, kSteps, differing, total);
  if (differing != 0) throw std::runtime_error("the resumed run did not reproduce the uninterrupted one");
}

void plot(const std::string& dir, const Curves& c) {
  explaind::report::PlotGrid grid;
  grid.title("MLP on Fashion-MNIST (10 classes, 10,000 training images), AdamW").xlabel("step").columns(2);
  grid.add(explaind::report::LinePlot()
               .title("cross-entropy")
               .ylabel("loss")
               .add_series("training batch", c.step, c.train_loss)
               .add_series("resumed from the checkpoint", c.resumed_step, c.resumed_loss,
                           explaind::report::SeriesStyle::Points)
               .add_series("test set", c.eval_step, c.test_loss, explaind::report::SeriesStyle::LinesPoints)
               .add_marker(static_cast<double>(kCheckpointAt), "checkpoint"));
  grid.add(explaind::report::LinePlot()
               .title("test accuracy")
               .ylabel("fraction correct")
               .legend(explaind::report::LegendPosition::BottomRight)
               .add_series("test set", c.eval_step, c.test_accuracy, explaind::report::SeriesStyle::LinesPoints));
  grid.size(1100, 450).render(dir + "/training_curves.png");
}

nn::data::ImageSet head(const nn::data::ImageSet& set, int64_t n) {
  return {kernel::narrow(set.images, 0, 0, n), kernel::narrow(set.labels, 0, 0, n)};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "runs/course/03_training";
  try {
    const nn::data::ImageSplits fmnist = nn::data::load_fashion_mnist();  // float32 pixels in [0, 1]
    const nn::data::ImageSet train = head(fmnist.train, kTrain), test = head(fmnist.test, kTest);
    const nn::data::TensorDataset train_set = train.dataset();
    std::filesystem::create_directories(dir);
    const std::string checkpoint = dir + "/checkpoint";
    Curves curves;
    Run run(train_set);
    fmt::print("{}\n{} parameters; {} steps of {} images\n\n", run.model.to_string(), run.model.num_parameters(),
               kSteps, kBatch);
    train_through(run, test, checkpoint, curves);
    nn::save_weights(run.model, dir + "/model.safetensors");
    resume_and_compare(train_set, run, checkpoint, curves);
    plot(dir, curves);
    fmt::print("wrote {0}/training_curves.png, {0}/model.safetensors and {0}/checkpoint/\n", dir);
  } catch (const std::exception& e) {
    fmt::print(stderr, "lesson_03_training: {}\n", e.what());
    return 1;
  }
  return 0;
}
