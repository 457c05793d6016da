// A stride-2 convolution with a 5×5 (or 6×6) kernel as a stride-1 3×3 convolution over the
// input's four phases (space-to-depth), which Winograd F(2×2, 3×3) then runs. With x_pad the
// padded input and phase f = 2·a + b holding x_pad[c, 2u + a, 2v + b]:
//   y[o, i, j] = Σ_c Σ_{ki, kj} w[o, c, ki, kj] x_pad[c, 2i + ki, 2j + kj]
//              = Σ_{f, c} Σ_{p, q < 3} w'[o, (f, c), p, q] x'[(f, c), i + p, j + q],
// where w'[o, (f, c), p, q] = w[o, c, 2p + a, 2q + b] (zero where 2p + a or 2q + b is past the
// kernel). The 3×3 kernel over 4·C channels holds 36·C weights per output where the 5×5 one holds
// 25·C, and Winograd multiplies 16 per 4 outputs instead of 36: 0.64 of the lowering's products,
// and no columns. Winograd reads the phases' planes straight from x (ConvPlanes::read_phase) and
// writes their gradients straight into x's (write_phase): nothing of x's size is rearranged in
// memory. The weights are rearranged here, and their gradient back.
#include <algorithm>
#include <utility>

#include "tensor/conv_winograd.hpp"

namespace pathgrad::kernel {
namespace {

// The phase columns v < W' whose input column 2·v + b − p lies inside [0, W): [lo, hi) (likewise
// for rows).
std::pair<int64_t, int64_t> inside(int64_t W, int64_t phase_w, int64_t p, int64_t b) {
  const int64_t lo = std::min((p - b + 1) / 2, phase_w);
  return {lo, std::clamp((W - 1 + p - b) / 2 + 1, lo, phase_w)};
}

// Calls f(entry of w' [O, 4·C·9], entry of w [O, C·K·K] or −1 where w' is zero).
template <class F>
void for_phase_weights(int64_t O, int64_t C, int64_t K, F&& f) {
  for (int64_t o = 0; o < O; ++o)
    for (int64_t ph = 0; ph < 4; ++ph)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t p = 0; p < 3; ++p)
          for (int64_t q = 0; q < 3; ++q) {
            const int64_t ki = 2 * p + ph / 2, kj = 2 * q + ph % 2;
            const int64_t from = ki < K && kj < K ? (o * C + c) * K * K + ki * K + kj : -1;
            f(((o * 4 + ph) * C + c) * 9 + p * 3 + q, from);
          }
}

// w' [O, 4·C·9] from w [O, C·K·K].
Tensor phase_weights(const Tensor& w, int64_t C, int64_t K) {
  const int64_t O = w.size(0);
  Tensor wp = Tensor::empty({O, 4 * C * 9}, w.dtype());
  dispatch_float(w.dtype(), "conv2d_phases", [&](auto tag) {
    using T = decltype(tag);
    const T* src = w.data<T>();
    T* dst = wp.data<T>();
    for_phase_weights(O, C, K, [&](int64_t to, int64_t from) { dst[to] = from >= 0 ? src[from] : T(0); });
  });
  return wp;
}

// Its adjoint: dw [O, C·K·K] from dw' [O, 4·C·9] (the entries of the zeros dropped).
Tensor weights_from_phases(const Tensor& dwp, int64_t C, int64_t K) {
  const int64_t O = dwp.size(0);
  Tensor dw = Tensor::empty({O, C * K * K}, dwp.dtype());
  dispatch_float(dwp.dtype(), "conv2d_phases", [&](auto tag) {
    using T = decltype(tag);
    const T* src = dwp.data<T>();
    T* dst = dw.data<T>();
    for_phase_weights(O, C, K, [&](int64_t from, int64_t to) {
      if (to >= 0) dst[to] = src[from];
    });
  });
  return dw;
}

}  // namespace

template <class T>
void ConvPlanes::read_phase(const T* x, int64_t n, int64_t c, T* dst, int64_t ld) const {
  const int64_t C = x_shape[1], H = x_shape[2], W = x_shape[3], p = phase_pad;
  const int64_t a = c / C / 2, b = c / C % 2;
  const T* plane = x + (n * C + c % C) * H * W;
  const auto [lo, hi] = inside(W, width, p, b);
  for (int64_t u = 0; u < height; ++u) {
    T* out = dst + u * ld;
    std::fill(out, out + width, T(0));
    const int64_t r = 2 * u + a - p;  // the input row of phase row u
    if (r < 0 || r >= H) continue;
    const T* in = plane + r * W;
    for (int64_t v = lo; v < hi; ++v) out[v] = in[2 * v + b - p];
  }
}

template <class T>
void ConvPlanes::write_phase(const T* src, int64_t ld, int64_t n, int64_t c, T* dx) const {
  const int64_t C = x_shape[1], H = x_shape[2], W = x_shape[3], p = phase_pad;
  const int64_t a = c / C / 2, b = c / C % 2;
  T* plane = dx + (n * C + c % C) * H * W;
  const auto [lo, hi] = inside(W, width, p, b);
  for (int64_t u = (p - a + 1) / 2, r = 2 * u + a - p; r < H; ++u, r += 2) {  // the rows of parity a
    T* row = plane + r * W;
    const int64_t end = u < height ? hi : lo;  // a row past H' is read by no window: zero
    for (int64_t v = lo; v < end; ++v) row[2 * v + b - p] = src[u * ld + v];
    int64_t s = 2 * end + b - p;  // the columns of parity b past W' (likewise read by no window)
    if (s < 0) s += (1 - s) / 2 * 2;
    for (; s < W; s += 2) row[s] = T(0);
  }
}

template void ConvPlanes::read_phase<float>(const float*, int64_t, int64_t, float*, int64_t) const;
template void ConvPlanes::read_phase<double>(const double*, int64_t, int64_t, double*, int64_t) const;
template void ConvPlanes::write_phase<float>(const float*, int64_t, int64_t, int64_t, float*) const;
template void ConvPlanes::write_phase<double>(const double*, int64_t, int64_t, int64_t, double*) const;

bool conv2d_phases_apply(const Shape& x_shape, int64_t out_channels, DType dtype, const Conv2dGeometry& g) {
  return dtype == DType::Float32 && x_shape.size() == 4 && g.kh == g.kw && (g.kh == 5 || g.kh == 6) &&
         g.stride_h == 2 && g.stride_w == 2 && g.pad_h == g.pad_w && x_shape[1] >= 2 && out_channels >= 8 &&
         x_shape[2] + 2 * g.pad_h >= g.kh && x_shape[3] + 2 * g.pad_w >= g.kw;
}

Tensor conv2d_phases_forward(const Tensor& x, const Tensor& w, const Conv2dGeometry& g) {
  return winograd_forward(x.contiguous(), phase_weights(w, x.size(1), g.kh), ConvPlanes::phases(x.shape(), g));
}

Conv2dGrads conv2d_phases_backward(const Tensor& x, const Tensor& w, const Tensor& grad, const Conv2dGeometry& g,
                                   bool input, bool weight) {
  Conv2dGrads out = winograd_backward(x.contiguous(), phase_weights(w, x.size(1), g.kh), grad,
                                      ConvPlanes::phases(x.shape(), g), input, weight);
  if (weight) out.weight = weights_from_phases(out.weight, x.size(1), g.kh);
  return out;
}

}  // namespace pathgrad::kernel
