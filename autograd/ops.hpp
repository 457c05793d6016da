// Differentiable operations: every operation of tensor/kernels.hpp that a model uses, recorded
// on the autograd graph with its backward rule. Where a parameter can be an operand, the op also
// has a per-sample rule (per_sample_grad in autograd/engine.hpp; autograd/per_sample_rules.hpp)
// and honours path points (autograd/path_rules.hpp).
//
// Conventions: binary ops broadcast like NumPy and require equal dtypes; dims may be negative;
// an empty `dims` list reduces over all dims. Errors throw std::invalid_argument (or
// std::out_of_range for indices) naming the operation and the shapes at fault.
// Tensor::contiguous()/clone()/to() are *not* recorded; use the functions below in models.
#pragma once

#include <vector>

#include "autograd/engine.hpp"
#include "tensor/kernels.hpp"
#include "tensor/tensor.hpp"

namespace pathgrad {

// ---- arithmetic (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);  // a > 0 where b's gradient is needed
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor pow(const Tensor& a, double exponent);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double s);
Tensor operator-(const Tensor& a, double s);
Tensor operator*(const Tensor& a, double s);
Tensor operator/(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(double s, const Tensor& a);
Tensor operator-(const Tensor& a);

// ---- elementwise functions ----
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor abs(const Tensor& a);  // gradient sign(a), 0 at 0
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);                         // gradient 1 where a > 0, else 0
Tensor clamp(const Tensor& a, double lo, double hi);  // gradient 1 strictly inside (lo, hi)
Tensor maximum(const Tensor& a, const Tensor& b);     // ties send the gradient to a
Tensor minimum(const Tensor& a, const Tensor& b);     // ties send the gradient to a
// cond != 0 ? a : b; differentiable in a and b.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);
// Comparisons are not differentiable: results hold 0/1 in the operands' dtype.
using kernel::eq;
using kernel::ge;
using kernel::gt;
using kernel::le;
using kernel::lt;
using kernel::ne;

// ---- reductions ----
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Max/min values; the gradient is shared equally among tied extreme elements.
Tensor amax(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor softmax(const Tensor& a, int64_t dim);
Tensor log_softmax(const Tensor& a, int64_t dim);
using kernel::argmax;
using kernel::argmin;

// ---- shapes and indexing ----
Tensor reshape(const Tensor& a, const Shape& shape);
Tensor flatten(const Tensor& a, int64_t start_dim = 1);  // dims start_dim.. merged into one
Tensor permute(const Tensor& a, const std::vector<int64_t>& order);
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1);
Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& a, int64_t dim, int64_t index);  // narrow + squeeze
Tensor expand(const Tensor& a, const Shape& shape);
Tensor squeeze(const Tensor& a, int64_t dim);
Tensor unsqueeze(const Tensor& a, int64_t dim);
Tensor contiguous(const Tensor& a);
Tensor to_dtype(const Tensor& a, DType dtype);  // differentiable dtype conversion
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);
Tensor cat(const std::vector<Tensor>& parts, int64_t dim);
Tensor stack(const std::vector<Tensor>& parts, int64_t dim);

// ---- layers' primitive operations (with per-sample rules for their parameters) ----
// NumPy matmul. Per-sample rule: b a 2-D parameter, a [B, ..., n, k].
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x W^T + b: x [..., in], weight [out, in], bias [out] or undefined -> [..., out].
// Per-sample rule for weight and bias when x is [B, ..., in].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// Rows of weight [V, D] picked by int64 index [B, ...] -> [B, ..., D]. Per-sample rule for weight.
Tensor embedding(const Tensor& weight, const Tensor& index);
// 2-D convolution (cross-correlation, like PyTorch): x [N, C, H, W], weight [O, C, kh, kw],
// bias [O] or undefined -> [N, O, OH, OW]. Per-sample rule for weight and bias.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride = 1, int64_t padding = 0);
// Max pooling over kh x kw windows with the given stride (default: the kernel size) and no
// padding: x [N, C, H, W] -> [N, C, OH, OW]. The gradient goes to the first maximum of a window.
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0);
// Max pooling to a fixed output size with PyTorch's adaptive window bounds
// (start = floor(i*H/OH), end = ceil((i+1)*H/OH)).
Tensor adaptive_max_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace pathgrad
