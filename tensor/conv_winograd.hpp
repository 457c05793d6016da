// Internal to tensor/: Winograd F(2×2, 3×3)'s core (conv_winograd.cpp) over a source of input
// planes, shared by the public entry points of kernels.hpp: conv2d_winograd_* (x's planes,
// padded) and conv2d_phases_* (x's stride-2 phases, conv_phases.cpp).
#pragma once

#include <cstdint>

#include "tensor/kernels.hpp"

namespace pathgrad::kernel {

// The planes x' [N, C', H', W'] a 3×3 stride-1 convolution with padding `pad` reads, and where
// their gradients go: x [N, C, H, W] itself (C' = C), or x's four phases for a stride-2
// convolution with padding p (C' = 4·C: plane f·C + c, f = 2·a + b, holds x_pad[c, 2·u + a,
// 2·v + b] with x_pad x padded by p, zero outside x; H' = OH + 2, W' = OW + 2; pad 0).
struct ConvPlanes {
  Shape x_shape;                         // x [N, C, H, W]
  int64_t channels, height, width, pad;  // C', H', W', and the 3×3 convolution's padding
  int64_t phase_pad = -1;                // p for x's phases; −1 for x itself

  static ConvPlanes direct(const Shape& x, int64_t pad) { return {x, x[1], x[2], x[3], pad}; }
  static ConvPlanes phases(const Shape& x, const Conv2dGeometry& g) {
    return {x, 4 * x[1], g.out_h(x[2]) + 2, g.out_w(x[3]) + 2, 0, g.pad_h};
  }
  // Phase plane (n, c) of x [N, C, H, W] into dst [H', ld] (conv_phases.cpp; float and double).
  template <class T>
  void read_phase(const T* x, int64_t n, int64_t c, T* dst, int64_t ld) const;
  // Its adjoint: the entries of plane (n, c % C) of dx [N, C, H, W] in phase c / C, from src
  // [H', ld]; the phase's entries that no window reads (past H' or W') get zero.
  template <class T>
  void write_phase(const T* src, int64_t ld, int64_t n, int64_t c, T* dx) const;
};

// y [N, O, OH·OW] = the 3×3 convolution of x' with w3 [O, C'·9] (both contiguous, float).
Tensor winograd_forward(const Tensor& x, const Tensor& w3, const ConvPlanes& planes);
// Its gradients: input [N, C, H, W] (x's shape, through the planes' adjoint) when `input`,
// weight [O, C'·9] when `weight`.
Conv2dGrads winograd_backward(const Tensor& x, const Tensor& w3, const Tensor& grad, const ConvPlanes& planes,
                              bool input, bool weight);

}  // namespace pathgrad::kernel
