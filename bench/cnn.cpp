// The benchmarks' ResNet-9-style CNN without batch norm.
#include "bench/cnn.hpp"

#include "nn/activation.hpp"
#include "nn/conv.hpp"
#include "nn/linear.hpp"
#include "nn/pooling.hpp"

namespace pathgrad::bench {
namespace {

void conv_relu(nn::Sequential& s, int64_t in, int64_t out) {
  s.push_back(std::make_shared<nn::Conv2d>(nn::Conv2dOptions(in, out, 3).padding(1)));
  s.push_back(std::make_shared<nn::ReLU>());
}

std::shared_ptr<nn::Residual> residual(int64_t channels) {
  auto inner = std::make_shared<nn::Sequential>();
  conv_relu(*inner, channels, channels);
  conv_relu(*inner, channels, channels);
  return std::make_shared<nn::Residual>(inner);
}

}  // namespace

std::shared_ptr<nn::Sequential> resnet9_no_bn(int64_t width, int64_t classes) {
  const int64_t w = width;
  auto net = std::make_shared<nn::Sequential>();
  conv_relu(*net, 3, w);
  conv_relu(*net, w, 2 * w);
  net->push_back(std::make_shared<nn::MaxPool2d>(2));
  net->push_back(residual(2 * w));
  conv_relu(*net, 2 * w, 4 * w);
  net->push_back(std::make_shared<nn::MaxPool2d>(2));
  conv_relu(*net, 4 * w, 8 * w);
  net->push_back(std::make_shared<nn::MaxPool2d>(2));
  net->push_back(residual(8 * w));
  net->push_back(std::make_shared<nn::AdaptiveMaxPool2d>(1));
  net->push_back(std::make_shared<nn::Flatten>());
  net->push_back(std::make_shared<nn::Linear>(8 * w, classes));
  net->push_back(std::make_shared<nn::LogSoftmax>(1));
  return net;
}

}  // namespace pathgrad::bench
