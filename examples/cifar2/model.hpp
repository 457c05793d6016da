// The CIFAR-2 network of the ExPLAIND paper: ResNet-9 without batch norm and without any bias,
// ReLU after every convolution, at a chosen width (64 = the paper's, 2,271,168 parameters).
#pragma once

#include <cstdint>
#include <memory>

#include "nn/conv.hpp"
#include "nn/linear.hpp"
#include "nn/module.hpp"

namespace pathgrad::cifar2 {

// relu(conv(x)) with a bias-free square convolution: child "conv".
class ConvRelu : public nn::Module {
 public:
  ConvRelu(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding);
  Tensor forward(const Tensor& x) override;  // [N, in, H, W] -> [N, out, OH, OW]
  std::shared_ptr<nn::Conv2d> conv;
};

// x + relu(conv2(relu(conv1(x)))) with two 3×3 convolutions (padding 1) keeping the channels:
// children "block1", "block2".
class ResidualBlock : public nn::Module {
 public:
  explicit ResidualBlock(int64_t channels);
  Tensor forward(const Tensor& x) override;  // [N, C, H, W] -> [N, C, H, W]
  std::shared_ptr<ConvRelu> block1, block2;
};

// images float32/float64 [N, 3, 32, 32] -> log-probabilities [N, classes]. With w = width:
//   conv1  3→w    k3 p1        32×32
//   conv2  w→2w   k5 s2 p2     16×16
//   res1   2w     two k3 p1    16×16   (x + f(x))
//   conv3  2w→4w  k3 p1, max-pool 2    8×8
//   res2   4w     two k3 p1    8×8
//   conv4  4w→2w  k3 p0        6×6
//   global max-pool, flatten, head: linear 2w→classes without bias, log-softmax
// Every convolution is followed by a ReLU; nothing has a bias. PyTorch's default initialisation
// (kaiming-uniform bounds 1/sqrt(fan_in)) drawn from nn::default_generator() in the order of
// the parameters: conv1, conv2, res1.block1, res1.block2, conv3, res2.block1, res2.block2, conv4,
// head — the order of named_parameters() and of the paper's PyTorch module.
class ResNet9 : public nn::Module {
 public:
  explicit ResNet9(int64_t width = 64, int64_t classes = 2);
  Tensor forward(const Tensor& images) override;
  int64_t width() const { return width_; }

  std::shared_ptr<ConvRelu> conv1, conv2, conv3, conv4;
  std::shared_ptr<ResidualBlock> res1, res2;
  std::shared_ptr<nn::Linear> head;

 private:
  int64_t width_;
};

// Multiply-accumulates of one forward pass of one image (the convolutions and the head).
int64_t resnet9_forward_macs(int64_t width, int64_t classes = 2);

}  // namespace pathgrad::cifar2
