// End-to-end check on real data: an MLP (784 -> 128 -> 2 with ReLU, from nn::Linear) trained with
// AdamW on 2,000 Fashion-MNIST training images of T-shirt/top (class 0) vs Trouser (class 1)
// classifies the class-filtered test set (2,000 images) with more than 95 % accuracy. Reads the
// files of Debian's dataset-fashion-mnist package (installed by scripts/setup.sh) and fails,
// saying so, when they are missing.
#include <doctest/doctest.h>

#include <memory>

#include "autograd/engine.hpp"
#include "nn/data/idx.hpp"
#include "nn/data/loader.hpp"
#include "nn/nn.hpp"
#include "optim/adam.hpp"
#include "tensor/kernels.hpp"

using namespace pathgrad;

TEST_CASE("an MLP trained with AdamW separates Fashion-MNIST T-shirts from trousers (> 95 % test accuracy)") {
  nn::data::ImageSplits splits;
  try {
    splits = nn::data::load_fashion_mnist(nn::data::kDebianFashionMnistDir, nn::data::ImageOptions().classes({0, 1}));
  } catch (const std::runtime_error& e) {
    FAIL("Fashion-MNIST could not be read; scripts/setup.sh installs it (Debian package dataset-fashion-mnist) in "
         << nn::data::kDebianFashionMnistDir << ": " << e.what());
  }
  constexpr int64_t kTrain = 2000;
  REQUIRE(splits.train.size() >= kTrain);
  const nn::data::TensorDataset train(kernel::narrow(splits.train.images, 0, 0, kTrain),
                                      kernel::narrow(splits.train.labels, 0, 0, kTrain));
  nn::data::DataLoader loader(train, nn::data::DataLoaderOptions(64).shuffle(true).seed(0));

  nn::manual_seed(0);
  nn::Sequential model{std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 128),
                       std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(128, 2)};
  optim::AdamW optimizer(model.named_parameters(), optim::AdamWOptions(1e-3));
  for (int epoch = 0; epoch < 2; ++epoch)  // 2 x 32 steps
    for (const nn::data::Batch& batch : loader) {
      optimizer.zero_grad();
      nn::cross_entropy(model.forward(batch.x), batch.y).backward();
      optimizer.step();
    }

  NoGradGuard no_grad;
  model.eval();
  const Tensor predicted = kernel::argmax(model.forward(splits.test.images), 1);
  const Tensor correct = kernel::eq(predicted, splits.test.labels);
  const double accuracy = kernel::sum(correct.to(DType::Float64)).item() / static_cast<double>(splits.test.size());
  MESSAGE("test accuracy " << accuracy << " on " << splits.test.size() << " images after " << optimizer.steps_taken()
                           << " steps on " << kTrain << " training images");
  CHECK(splits.test.size() == 2000);
  CHECK(accuracy > 0.95);
}
