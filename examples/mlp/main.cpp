// The smallest complete pathgrad program: an MLP learns Fashion-MNIST's T-shirts/tops (class 0)
// from trousers (class 1) with AdamW while the path-kernel tracker accounts for every step. It
// prints what tracking will cost, the kernel machine's replica error, and the training images that
// pushed one test prediction up and down the most (their data influence).
//
//   ./build/examples/mlp [run directory, default runs/mlp]     (about 10 s on 2 cores)
//
// The lines between the two README markers are the README's code block, word for word
// (tests/test_readme.cpp keeps them the same and runs this program).
#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "autograd/ops.hpp"
#include "explaind/tracker.hpp"
#include "nn/data/idx.hpp"
#include "nn/data/loader.hpp"
#include "nn/nn.hpp"
#include "optim/adam.hpp"
#include "tensor/kernels.hpp"
#include "tensor/npy.hpp"

using namespace pathgrad;

// README begin
struct Net : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2;
  Net() {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(784, 32));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(32, 2));
  }
  Tensor forward(const Tensor& x) override { return log_softmax(fc2->forward(relu(fc1->forward(flatten(x)))), 1); }
};

explaind::Summary train_and_explain(const nn::data::Dataset& train_set, const explaind::ProbeSet& probes, int steps,
                                    const std::string& out) {
  nn::manual_seed(0);
  Net net, probe_net;  // probe_net: a float64 twin for exact accounting
  probe_net.to(DType::Float64);
  optim::AdamW opt(net.named_parameters(), optim::AdamWOptions(1e-3).weight_decay(0.1));
  nn::data::DataLoader loader(train_set, nn::data::DataLoaderOptions(100).shuffle(true).seed(0));
  const auto per_sample_loss = [](const Tensor& out, const Tensor& y) {
    return nn::nll_loss(out, y, nn::Reduction::None);
  };
  explaind::Tracker tracker(net, opt, loader, per_sample_loss, {probes},
                            explaind::TrackerOptions().per_sample(true).probe_model(&probe_net).output_dir(out));
  std::cout << tracker.cost_report();  // memory and work, before training starts
  for (int step = 0; step < steps; ++step) {
    const nn::data::Batch& batch = loader.next();  // batch.x, batch.y, batch.ids
    opt.zero_grad();
    nn::nll_loss(net.forward(batch.x), batch.y).backward();
    opt.step();  // the tracker sees every step: no extra call
  }
  return tracker.finish();  // replica error; exports in `out`
}
// README end

namespace {

// The first n images and labels of a set.
nn::data::ImageSet head(const nn::data::ImageSet& set, int64_t n) {
  return {kernel::narrow(set.images, 0, 0, n), kernel::narrow(set.labels, 0, 0, n)};
}

// Prints the k training images with the largest and the smallest influence on probe 0.
void print_extremes(const std::string& sample_data_npy, const Tensor& train_labels, int64_t k) {
  const std::vector<double> influence =
      kernel::squeeze(kernel::narrow(load_npy(sample_data_npy), 0, 0, 1), 0).to_vector();
  std::vector<int64_t> order(influence.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return influence[a] > influence[b]; });
  const char* names[] = {"T-shirt/top", "trouser"};
  auto show = [&](const char* title, auto first) {
    fmt::print("{}\n", title);
    for (int64_t j = 0; j < k; ++j, ++first)
      fmt::print("  training image {:>4} ({:<11})  {:+.4f}\n", *first,
                 names[static_cast<int64_t>(train_labels.at({*first}))], influence[*first]);
  };
  show("training images that raised log p(label) of test image 0 the most:", order.begin());
  show("and that lowered it the most:", order.rbegin());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string run_dir = argc > 1 ? argv[1] : "runs/mlp";
  try {
    const nn::data::ImageSplits fmnist =
        nn::data::load_fashion_mnist(nn::data::kDebianFashionMnistDir, nn::data::ImageOptions().classes({0, 1}));
    const nn::data::ImageSet train = head(fmnist.train, 1000), test = head(fmnist.test, 16);
    // Probes: log p(label) of 16 test images, with their data influence (sample level).
    explaind::ProbeSet probes;
    probes.name = "test";
    probes.x = test.images;
    probes.y = test.labels;
    probes.sample_level = true;
    const explaind::Summary s = train_and_explain(train.dataset(), probes, 40, run_dir + "/explaind");
    fmt::print("replica: max |error| {:.2e} over {} probes, {:.1e} of the change training made (mean {:.3f})\n",
               s.replica_max_abs_error, probes.x.size(0), s.replica_max_abs_error / s.change_scale, s.change_scale);
    fmt::print("samples + weight decay + residual = total change, to {:.1e} of the output scale\n",
               s.marginal_mismatch);
    print_extremes(run_dir + "/explaind/sample_data.npy", train.labels, 3);
  } catch (const std::exception& e) {
    fmt::print(stderr, "mlp: {}\n", e.what());
    return 1;
  }
  return 0;
}
