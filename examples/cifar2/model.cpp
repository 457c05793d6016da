// The paper's CIFAR-2 ResNet-9 (no batch norm, no bias): layers and forward pass.
#include "examples/cifar2/model.hpp"

#include <stdexcept>

#include "autograd/ops.hpp"

namespace pathgrad::cifar2 {

ConvRelu::ConvRelu(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  conv = register_module("conv", std::make_shared<nn::Conv2d>(
                                     nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false)));
}

Tensor ConvRelu::forward(const Tensor& x) { return relu(conv->forward(x)); }

ResidualBlock::ResidualBlock(int64_t channels) {
  block1 = register_module("block1", std::make_shared<ConvRelu>(channels, channels, 3, 1, 1));
  block2 = register_module("block2", std::make_shared<ConvRelu>(channels, channels, 3, 1, 1));
}

Tensor ResidualBlock::forward(const Tensor& x) { return x + block2->forward(block1->forward(x)); }

ResNet9::ResNet9(int64_t width, int64_t classes) : width_(width) {
  if (width < 1 || classes < 1) throw std::invalid_argument("ResNet9: width and classes must be at least 1");
  const int64_t w = width;
  conv1 = register_module("conv1", std::make_shared<ConvRelu>(3, w, 3, 1, 1));
  conv2 = register_module("conv2", std::make_shared<ConvRelu>(w, 2 * w, 5, 2, 2));
  res1 = register_module("res1", std::make_shared<ResidualBlock>(2 * w));
  conv3 = register_module("conv3", std::make_shared<ConvRelu>(2 * w, 4 * w, 3, 1, 1));
  res2 = register_module("res2", std::make_shared<ResidualBlock>(4 * w));
  conv4 = register_module("conv4", std::make_shared<ConvRelu>(4 * w, 2 * w, 3, 1, 0));
  head = register_module("head", std::make_shared<nn::Linear>(nn::LinearOptions(2 * w, classes).bias(false)));
}

Tensor ResNet9::forward(const Tensor& images) {
  Tensor x = conv2->forward(conv1->forward(images));  // [N, 2w, 16, 16]
  x = res1->forward(x);
  x = max_pool2d(conv3->forward(x), 2, 2);                                   // [N, 4w, 8, 8]
  x = conv4->forward(res2->forward(x));                                      // [N, 2w, 6, 6]
  x = adaptive_max_pool2d(x, 1, 1);                                          // [N, 2w, 1, 1]
  return log_softmax(head->forward(reshape(x, {x.size(0), x.size(1)})), 1);  // [N, classes]
}

int64_t resnet9_forward_macs(int64_t width, int64_t classes) {
  const int64_t w = width;
  // (in · out · k²) · output pixels, layer by layer as in the forward pass.
  return 3 * w * 9 * 32 * 32 + w * 2 * w * 25 * 16 * 16 + 2 * (2 * w * 2 * w * 9 * 16 * 16) +
         2 * w * 4 * w * 9 * 16 * 16 + 2 * (4 * w * 4 * w * 9 * 8 * 8) + 4 * w * 2 * w * 9 * 6 * 6 + 2 * w * classes;
}

}  // namespace pathgrad::cifar2
