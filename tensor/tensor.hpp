// The Tensor handle: a shape, strides and an offset into shared, reference-counted storage.
//
// A Tensor is a cheap handle (like a shared_ptr): copies share the same storage *and* the same
// autograd identity. Views (reshape of a contiguous tensor, permute, narrow, expand) share storage
// with their base. Storage is always a single contiguous, 64-byte aligned buffer; a tensor is
// "contiguous" when its strides are the row-major strides of its shape.
//
// The dtype is chosen at run time: Float32 (the default, for speed), Float64 (for exactness and
// gradient checks), Int64 (indices and labels) and UInt8 (raw image bytes; storage and I/O only).
//
// This header has no autograd logic: it only reserves the slots autograd/ fills in (requires_grad,
// grad, grad_fn). The differentiable operations live in autograd/ops.hpp; the raw, non-recording
// kernels they call live in tensor/kernels.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/dtype.hpp"
#include "tensor/shape.hpp"

namespace pathgrad {

struct Node;  // an autograd graph node; defined in autograd/node.hpp

// A contiguous, 64-byte aligned byte buffer shared by tensors and their views; zero-initialised
// unless `zero_fill` is false (then its contents are unspecified).
//
// Buffers of kStorageCacheMinBytes and more are recycled: a freed one is kept (up to
// storage_cache_max_bytes() in total) and handed to the next Storage of the same size class
// (sizes rounded up to four significant bits, at most 12.5 % more than asked). A
// training loop allocates the same activations every step, and memory that is already mapped
// avoids the page faults of fresh memory, which stall multi-threaded BLAS calls badly (measured
// in docs/benchmarks.md). The cache never holds more than its bound, whatever the step count:
// to make room it returns the least recently freed buffers to the system, so it follows the
// sizes the current loop asks for.
class Storage {
 public:
  explicit Storage(std::size_t nbytes, bool zero_fill = true);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() { return data_; }
  const void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  std::size_t capacity_ = 0;  // bytes actually allocated (nbytes rounded up to its size class)
};

inline constexpr std::size_t kStorageCacheMinBytes = std::size_t{64} << 10;  // 64 KiB
// The cache's bound: a quarter of the machine's physical memory, at least 1 GiB. A training step
// of the paper's ResNet-9 (width 64, batch 256) frees about 2 GB of columns and activations, which
// the next step asks for again; under a smaller bound they came back as fresh pages every step.
std::size_t storage_cache_max_bytes();
// Bytes currently held by the recycling cache (not in use by any tensor). Besides its bound, the
// cache keeps live + cached bytes within 9/8 of the most that tensors ever held at once: it never
// makes the process hold much more than its largest working set.
std::size_t storage_cache_bytes();
// Bytes of the buffers that tensors hold now (allocated capacities, every size).
std::size_t storage_live_bytes();

// The most bytes tensors held at once (storage_live_bytes()) while the meter lives: what a piece
// of work needed, tensors of any thread included. Meters nest — an enclosing meter still sees the
// peaks inside the ones it encloses — but must be created and destroyed in nested order.
class StoragePeakMeter {
 public:
  StoragePeakMeter();
  ~StoragePeakMeter();
  StoragePeakMeter(const StoragePeakMeter&) = delete;
  StoragePeakMeter& operator=(const StoragePeakMeter&) = delete;
  std::size_t peak() const;

 private:
  std::size_t enclosing_;  // the enclosing meter's peak when this one began
};
// Returns every cached buffer to the system allocator.
void release_storage_cache();

// Everything a tensor is. Shared between copies of a Tensor handle.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::Float32;
  // autograd slots (see autograd/): a leaf with requires_grad accumulates into `grad`;
  // a non-leaf carries the node that produced it.
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() == false)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation (all results are contiguous and own fresh storage) ----
  // Contents unspecified (PyTorch's torch.empty): for kernels that overwrite every element (it
  // saves a pass over memory). Anything that reads before writing wants zeros().
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
  static Tensor ones(const Shape& shape, DType dtype = DType::Float32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::Float32);
  static Tensor scalar(double value, DType dtype = DType::Float32);  // 0-d tensor
  // [n] = 0, 1, ..., n-1
  static Tensor arange(int64_t n, DType dtype = DType::Float32);
  // [n, n] identity
  static Tensor eye(int64_t n, DType dtype = DType::Float32);
  // Copies `values` (converted to `dtype`); throws if shape's numel differs from values.size().
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype = DType::Float32);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape);
  // Copies `numel(shape)` elements of type `dtype` from a raw buffer (which may be null when the
  // shape has no elements).
  static Tensor from_buffer(const void* data, const Shape& shape, DType dtype);

  // ---- properties ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  // size along dim d; negative d counts from the end. Throws if out of range.
  int64_t size(int64_t d) const;
  int64_t numel() const { return pathgrad::numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  bool is_floating_point() const { return pathgrad::is_floating_point(dtype()); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }

  // Pointer to the first element, typed. Throws if T does not match dtype(). For a non-contiguous
  // tensor, index with strides() yourself (or call contiguous() first).
  template <class T>
  T* data() const;
  void* raw_data() const;

  // Value of a 1-element tensor, converted to double. Throws if numel() != 1.
  double item() const;
  // Element at a full index, converted to double (for tests and printing; slow).
  double at(std::initializer_list<int64_t> index) const;
  double at(const std::vector<int64_t>& index) const;
  // Sets the element at a full index (for tests; slow). Bypasses autograd.
  void set(const std::vector<int64_t>& index, double value) const;
  // All elements in row-major order, converted to double (for tests; slow).
  std::vector<double> to_vector() const;

  // ---- copies and conversions (no autograd: see autograd/ops.hpp for differentiable ones) ----
  // A contiguous tensor with the same values: *this when already contiguous, else a copy.
  Tensor contiguous() const;
  Tensor clone() const;          // always a fresh contiguous copy
  Tensor to(DType dtype) const;  // *this if the dtype already matches, else a converted copy
  // Copies `src` (same shape, any dtype, any strides) into this tensor's memory, in place.
  void copy_(const Tensor& src) const;
  void fill_(double value) const;
  // A handle to the same storage with the same view, without autograd history (undefined for an
  // undefined tensor).
  Tensor detach() const;
  // A view with a new shape/strides/offset over the same storage (no checks beyond bounds).
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // ---- autograd slots (semantics in autograd/engine.hpp) ----
  bool requires_grad() const { return defined() && impl().requires_grad; }
  // Marks a leaf tensor as a trainable parameter. Throws on a non-leaf or a non-float dtype.
  Tensor& set_requires_grad(bool value = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  // The gradient accumulated by backward(); undefined until then.
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  // Runs reverse-mode autodiff from this tensor (defined in autograd/engine.cpp).
  // seed defaults to 1 for a one-element tensor; retain_graph keeps the graph for another call.
  void backward(const Tensor& seed = Tensor(), bool retain_graph = false) const;

  std::string to_string() const;  // numpy-like printing
  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  // True when both handles refer to the same tensor (same autograd identity).
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Tensors with names, in a meaningful order: parameters ("layers.0.weight"), state dicts,
// the contents of a safetensors file.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Float32/Float64 dispatch helper for kernels: calls f(T{}) with T = float or double.
template <class F>
decltype(auto) dispatch_float(DType dtype, const char* op, F&& f) {
  if (dtype == DType::Float32) return f(float{});
  if (dtype == DType::Float64) return f(double{});
  throw_dtype_error(op, dtype, "float32 or float64");
}

// Dispatch over every dtype: calls f(T{}) with T = float, double, int64_t or uint8_t.
template <class F>
decltype(auto) dispatch_all(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32:
      return f(float{});
    case DType::Float64:
      return f(double{});
    case DType::Int64:
      return f(int64_t{});
    case DType::UInt8:
      break;
  }
  return f(uint8_t{});
}

}  // namespace pathgrad
