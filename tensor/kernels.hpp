// Raw tensor kernels: the numerical work behind every operation, without autograd.
//
// These functions never record a graph; autograd/ops.hpp wraps them into differentiable
// operations. All results are fresh contiguous tensors unless the function is documented as a
// view (reshape of a contiguous tensor, permute, transpose, narrow, expand, squeeze, unsqueeze),
// as a permuted layout (im2col) or as in-place (name ending in '_').
//
// Contracts shared by all kernels:
// - Binary elementwise kernels broadcast like NumPy and require equal dtypes (no silent
//   promotion); mismatches throw std::invalid_argument naming the kernel and the shapes/dtypes.
// - Comparisons return the inputs' dtype holding 0 or 1.
// - `dims` arguments accept negative dims; an empty dims list for a reduction means "all dims".
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad::kernel {

// ---- elementwise, binary (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// cond != 0 ? a : b, all three broadcast together; a and b share a dtype.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- elementwise, with a scalar ----
Tensor add_scalar(const Tensor& a, double s);
Tensor mul_scalar(const Tensor& a, double s);
Tensor pow_scalar(const Tensor& a, double exponent);
Tensor rsub_scalar(const Tensor& a, double s);  // s - a
Tensor clamp(const Tensor& a, double lo, double hi);
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);  // mask broadcasts to a

// ---- elementwise, unary ----
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor sign(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);
Tensor step(const Tensor& a);  // 1 where a > 0 else 0 (ReLU's derivative)
// ReLU's input gradient in one pass: grad where z > 0, else 0 (also where grad is not finite, as
// PyTorch's threshold_backward). grad and z of one dtype, broadcast together.
Tensor relu_backward(const Tensor& grad, const Tensor& z);

// ---- in place (any strides; for optimizers, gradient accumulation and accumulators) ----
void add_(const Tensor& dst, const Tensor& src, double alpha = 1.0);  // dst += alpha*src (same shape)
// dst[r, ...] += t[r] · src[r, ...]: dst contiguous [R, ...], t [R], src of dst's shape or of its
// shape without dim 0 (the same for every row); rounded as add(dst, mul(t, src)) is.
void add_row_scaled_(const Tensor& dst, const Tensor& t, const Tensor& src);
void mul_scalar_(const Tensor& dst, double s);

// ---- reductions ----
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amax(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);  // int64 result
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim = false);  // int64 result
Tensor logsumexp(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor softmax(const Tensor& a, int64_t dim);      // stable: subtracts the max
Tensor log_softmax(const Tensor& a, int64_t dim);  // stable: x - max - log(sum(exp(x - max)))
// KL(p || q) = sum_k p_k (log p_k - log q_k) along `dim`, from log-probabilities log_p and log_q
// of the same shape and dtype, each normalised along dim (log_softmax outputs); the result has
// dim removed. Summed as sum_k (q_k - p_k + p_k log(p_k/q_k)) = sum_k p_k (e^(-d_k) - 1 + d_k)
// with d = log p - log q: equal to KL when both distributions sum to 1, and every term is >= 0
// (expm1 keeps the small ones accurate), so the result is never negative, also for p ~= q where
// the plain sum rounds below zero. A term with p_k = 0 is q_k; q_k = 0 where p_k > 0 gives +inf.
Tensor kl_div_log(const Tensor& log_p, const Tensor& log_q, int64_t dim);
// Sums a gradient of `grad.shape()` down to `shape` (the inverse of broadcasting `shape` to it).
Tensor sum_to(const Tensor& grad, const Shape& shape);

// ---- shapes and indexing ----
Tensor reshape(const Tensor& a, const Shape& shape);                         // one -1 allowed; a view when contiguous
Tensor permute(const Tensor& a, const std::vector<int64_t>& order);          // view
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1);                   // view
Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length);  // view
Tensor expand(const Tensor& a, const Shape& shape);                          // view, broadcast rules, -1 keeps a size
Tensor squeeze(const Tensor& a, int64_t dim);                                // view; dim must have size 1
Tensor unsqueeze(const Tensor& a, int64_t dim);                              // view
// out[..., j, ...] = a[..., index[j], ...] along `dim`; index is a 1-D int64 tensor.
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);
// out[i][j][k] = a[i][index[i][j][k]][k] (for dim 1); index has a's number of dims.
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);
// out = zeros(shape); out[i][index[i][j][k]][k] += src[i][j][k] (for dim 1).
Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
// Rows of `weight` [V, ...] picked by an int64 index tensor of any shape: [index..., ...].
Tensor embedding(const Tensor& weight, const Tensor& index);
// grad_weight [V, ...] accumulating rows of grad [index..., ...] at their indices.
Tensor embedding_backward(const Tensor& grad, const Tensor& index, int64_t num_rows);
Tensor cat(const std::vector<Tensor>& parts, int64_t dim);
Tensor stack(const std::vector<Tensor>& parts, int64_t dim);

// ---- linear algebra (OpenBLAS) ----
// NumPy matmul semantics: [..., n, k] @ [..., k, m] with broadcast batch dims; 1-D operands are
// promoted like NumPy (and the added dim removed). Runs cblas_sgemm / cblas_dgemm; batches of
// tiny products (m·n·k <= 2048, attention over a few tokens) run as plain loops over the batch,
// split over threads, where a BLAS call would cost more than its arithmetic.
Tensor matmul(const Tensor& a, const Tensor& b);
// im2col for 2-D convolution: x [N, C, H, W] -> cols [N, C*kh*kw, OH*OW] with
// OH = (H + 2*pad_h - kh) / stride_h + 1 (likewise OW). Zero padding. Row (c*kh + i)*kw + j of
// cols holds x[n, c, oh*stride_h - pad_h + i, ow*stride_w - pad_w + j] at column oh*OW + ow.
// The result is a view (not contiguous): its buffer is laid out [C*kh*kw, N, OH*OW], so that
// permute(cols, {1, 0, 2}) reshaped to [C*kh*kw, N*OH*OW] is the whole batch's column matrix and
// a convolution over the batch is one GEMM.
// Throws std::invalid_argument for a non-4-D input, a non-positive kernel or stride, negative
// padding, or a kernel larger than the padded input.
struct Conv2dGeometry {
  int64_t kh, kw, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t out_h(int64_t h) const { return (h + 2 * pad_h - kh) / stride_h + 1; }
  int64_t out_w(int64_t w) const { return (w + 2 * pad_w - kw) / stride_w + 1; }
};
Tensor im2col(const Tensor& x, const Conv2dGeometry& g);
// The adjoint of im2col: cols [N, C*kh*kw, OH*OW] (any strides; rows are read in place when
// their last dim is contiguous) -> [N, C, H, W], overlapping entries summed.
Tensor col2im(const Tensor& cols, const Shape& x_shape, const Conv2dGeometry& g);
// A convolution lowered to GEMMs over the columns of blocks of samples that stay in a core's cache
// (im2col's columns of the whole batch are never materialised). w [O, C*kh*kw] is the weight
// reshaped, contiguous, of x's dtype; L = OH*OW.
// Forward: x [N, C, H, W] -> [N, O, L], equal to matmul(w, im2col(x)). Runs Winograd where
// conv2d_winograd_applies, or over the input's phases where conv2d_phases_apply (both below), else
// conv2d_lowered_forward: one GEMM per block of samples over their columns, written in place.
// Throws std::invalid_argument for mismatched operands.
Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Conv2dGeometry& g);
Tensor conv2d_lowered_forward(const Tensor& x, const Tensor& w, const Conv2dGeometry& g);
// Backward of conv2d_forward for grad [N, O, L] (contiguous): the input gradient
// col2im(wᵀ grad_n) [N, C, H, W] per sample (plus col2im(dwᵀ grad_t_n) when dw, like w, and
// grad_t, like grad, are given, each product rounded on its own and added) when `input` is set,
// and the weight gradient Σ_n grad_n im2col(x)_nᵀ [O, C*kh*kw] when `weight` is set (else the
// field is undefined). The weight gradient sums the blocks of samples in order, each block one
// GEMM (per thread a partial sum over consecutive blocks, the partials added in order): its last
// bits depend on the block size and thread count, not on anything else.
struct Conv2dGrads {
  Tensor input, weight;
};
Conv2dGrads conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& grad, const Conv2dGeometry& g, bool input,
                            bool weight, const Tensor& dw = Tensor(), const Tensor& grad_t = Tensor());
// conv2d_backward by the lowering alone (what conv2d_backward runs with dw, or where neither
// Winograd nor the phases apply).
Conv2dGrads conv2d_lowered_backward(const Tensor& x, const Tensor& w, const Tensor& grad, const Conv2dGeometry& g,
                                    bool input, bool weight, const Tensor& dw = Tensor(),
                                    const Tensor& grad_t = Tensor());
// Winograd F(2×2, 3×3) (tensor/conv_winograd.cpp): the same convolution as 16 GEMMs per block of
// samples over 4×4 transformed patches, 2.25× fewer multiplications than the lowering.
// conv2d_forward and conv2d_backward (without dw) run it where conv2d_winograd_applies: float32,
// a 3×3 kernel, stride 1, equal padding, at least 8 input and 8 output channels (float64, the
// tracker's dtype, keeps the lowering's sums). Its rounding differs from the direct sum's: the
// transforms add and halve up to 16 entries before and after the products, so its error bound is
// wider (tests/test_tensor.cpp derives it from the transforms' entries); in the CIFAR-2 network it
// stays within the 8-eps agreement with PyTorch (tests/test_cifar2_model.cpp). Operands as for
// conv2d_forward / conv2d_backward, already checked.
bool conv2d_winograd_applies(const Shape& x_shape, int64_t out_channels, DType dtype, const Conv2dGeometry& g);
Tensor conv2d_winograd_forward(const Tensor& x, const Tensor& w, const Conv2dGeometry& g);
Conv2dGrads conv2d_winograd_backward(const Tensor& x, const Tensor& w, const Tensor& grad, const Conv2dGeometry& g,
                                     bool input, bool weight);
// A 5×5 or 6×6 stride-2 convolution (tensor/conv_phases.cpp) as a 3×3 stride-1 one over the
// input's four phases (space-to-depth: 4·C channels, the kernel's entries split by parity and
// zero-padded to 3×3), run by Winograd: 0.64 of the lowering's products at 5×5. conv2d_forward
// and conv2d_backward (without dw) run it where conv2d_phases_apply: float32, equal padding, at
// least 2 input and 8 output channels. Its rounding is Winograd's over 4·C channels (bounds in
// tests/test_tensor.cpp). Operands as for conv2d_forward / conv2d_backward, already checked.
bool conv2d_phases_apply(const Shape& x_shape, int64_t out_channels, DType dtype, const Conv2dGeometry& g);
Tensor conv2d_phases_forward(const Tensor& x, const Tensor& w, const Conv2dGeometry& g);
Conv2dGrads conv2d_phases_backward(const Tensor& x, const Tensor& w, const Tensor& grad, const Conv2dGeometry& g,
                                   bool input, bool weight);

// ---- pooling ----
// Max pooling of x [N, C, H, W]. Window (i, j) of output covers rows [h0(i), h1(i)) and columns
// [w0(j), w1(j)). Returns the maxima [N, C, OH, OW] and, for the backward pass, the flat index
// (row * W + col) of the first maximum in each window, as int64.
struct PoolResult {
  Tensor values, indices;
};
// Fixed windows: kernel kh x kw, stride sh x sw, no padding.
PoolResult max_pool2d(const Tensor& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw);
// PyTorch's adaptive windows: start = floor(i*H/OH), end = ceil((i+1)*H/OH). Every window is
// non-empty, also when OH > H (windows then overlap).
PoolResult adaptive_max_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);
// Routes grad [N, C, OH, OW] to the recorded maxima: zeros [N, C, H, W] plus grad at indices
// (accumulated where windows overlap).
Tensor max_pool2d_backward(const Tensor& grad, const Tensor& indices, const Shape& x_shape);

}  // namespace pathgrad::kernel
