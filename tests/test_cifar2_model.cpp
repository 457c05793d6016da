// The CIFAR-2 example's model (examples/cifar2/model.hpp): its size and shapes.
#include <doctest/doctest.h>

#include "examples/cifar2/model.hpp"
#include "nn/init.hpp"
#include "tensor/kernels.hpp"
#include "tensor/random.hpp"

using namespace pathgrad;

namespace {
int64_t parameter_count(nn::Module& m) {
  int64_t n = 0;
  for (const auto& [name, p] : m.named_parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST_CASE("cifar2 ResNet9: the paper's 2,271,168 parameters at width 64, in PyTorch's order") {
  cifar2::ResNet9 net(64);
  CHECK(parameter_count(net) == 2271168);
  std::vector<std::string> names;
  for (const auto& [name, p] : net.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"conv1.conv.weight", "conv2.conv.weight", "res1.block1.conv.weight",
                                          "res1.block2.conv.weight", "conv3.conv.weight", "res2.block1.conv.weight",
                                          "res2.block2.conv.weight", "conv4.conv.weight", "head.weight"});
  CHECK(net.conv2->conv->weight.shape() == Shape{128, 64, 5, 5});
  CHECK(net.conv4->conv->weight.shape() == Shape{128, 256, 3, 3});
  CHECK(net.head->weight.shape() == Shape{2, 128});
}

TEST_CASE("cifar2 ResNet9: log-probabilities of shape [N, 2] at any width") {
  nn::manual_seed(3);
  cifar2::ResNet9 net(2);
  CHECK(parameter_count(net) == 554 * 4 + 27 * 2 + 2 * 2 * 2);  // 554 w² + 27 w + 2w · classes
  Generator gen(5);
  const Tensor x = rand_normal({3, 3, 32, 32}, 0.0, 1.0, gen);
  const Tensor out = net.forward(x);
  REQUIRE(out.shape() == Shape{3, 2});
  // log-probabilities: each row's probabilities add up to 1 (float32 rounding of two terms)
  const Tensor total = kernel::sum(kernel::exp(out.to(DType::Float64)), {1});
  for (int64_t i = 0; i < 3; ++i) CHECK(total.at({i}) == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(cifar2::resnet9_forward_macs(64) == 1728 * 1024 + 204800 * 256 + 2 * 147456 * 256 + 294912 * 256 +
                                                 589824 * 2 * 64 + 294912 * 36 + 256);
}
