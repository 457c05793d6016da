// Shape and indexing kernels: views (reshape, permute, narrow, expand, squeeze, unsqueeze) and
// copies (index_select, gather, scatter_add, embedding, cat, stack). cat, stack and the reshape of a
// non-contiguous tensor copy through Tensor::copy_ (tensor/tensor.cpp).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <stdexcept>

#include "tensor/kernels.hpp"
#include "tensor/strided.hpp"

namespace pathgrad::kernel {

Tensor reshape(const Tensor& a, const Shape& shape) {
  Shape target = shape;
  int64_t infer = -1, known = 1;
  for (size_t d = 0; d < target.size(); ++d) {
    if (target[d] == -1) {
      if (infer >= 0) throw std::invalid_argument("reshape: only one dim may be -1 in " + shape_str(shape));
      infer = static_cast<int64_t>(d);
    } else if (target[d] < 0) {
      throw std::invalid_argument("reshape: negative size in " + shape_str(shape));
    } else {
      known *= target[d];
    }
  }
  if (infer >= 0) {
    if (known == 0 || a.numel() % known != 0)
      throw std::invalid_argument(
          fmt::format("reshape: cannot reshape {} into {}", shape_str(a.shape()), shape_str(shape)));
    target[infer] = a.numel() / known;
  }
  if (numel(target) != a.numel())
    throw std::invalid_argument(fmt::format("reshape: cannot reshape {} ({} elements) into {}", shape_str(a.shape()),
                                            a.numel(), shape_str(shape)));
  Tensor c = a.contiguous();
  return c.as_strided(target, contiguous_strides(target), c.offset());
}

Tensor permute(const Tensor& a, const std::vector<int64_t>& order) {
  if (static_cast<int64_t>(order.size()) != a.dim())
    throw std::invalid_argument(
        fmt::format("permute: order [{}] for a tensor of shape {}", fmt::join(order, ", "), shape_str(a.shape())));
  Shape shape(order.size()), strides(order.size());
  std::vector<bool> used(order.size(), false);
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t d = normalize_dim(order[i], a.dim(), "permute");
    if (used[d]) throw std::invalid_argument(fmt::format("permute: dim {} repeated", d));
    used[d] = true;
    shape[i] = a.shape()[d];
    strides[i] = a.strides()[d];
  }
  return a.as_strided(shape, strides, a.offset());
}

Tensor transpose(const Tensor& a, int64_t d0, int64_t d1) {
  std::vector<int64_t> order(static_cast<size_t>(a.dim()));
  for (int64_t i = 0; i < a.dim(); ++i) order[i] = i;
  std::swap(order[normalize_dim(d0, a.dim(), "transpose")], order[normalize_dim(d1, a.dim(), "transpose")]);
  return permute(a, order);
}

Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length) {
  const int64_t d = normalize_dim(dim, a.dim(), "narrow");
  if (start < 0 || length < 0 || start + length > a.shape()[d])
    throw std::out_of_range(fmt::format("narrow: [{}, {}) out of range for dim {} of shape {}", start, start + length,
                                        d, shape_str(a.shape())));
  Shape shape = a.shape();
  shape[d] = length;
  return a.as_strided(shape, a.strides(), a.offset() + start * a.strides()[d]);
}

Tensor expand(const Tensor& a, const Shape& shape) {
  if (shape.size() < static_cast<size_t>(a.dim()))
    throw std::invalid_argument(fmt::format("expand: cannot expand {} to {}", shape_str(a.shape()), shape_str(shape)));
  const size_t lead = shape.size() - static_cast<size_t>(a.dim());
  Shape out(shape.size()), strides(shape.size(), 0);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (d < lead) {
      if (shape[d] < 0) throw std::invalid_argument("expand: -1 is not allowed for a new leading dim");
      out[d] = shape[d];
      continue;
    }
    const int64_t src = a.shape()[d - lead];
    const int64_t want = shape[d] == -1 ? src : shape[d];
    if (want < 0 || (src != want && src != 1))
      throw std::invalid_argument(
          fmt::format("expand: cannot expand {} to {}", shape_str(a.shape()), shape_str(shape)));
    out[d] = want;
    strides[d] = src == want ? a.strides()[d - lead] : 0;
  }
  return a.as_strided(out, strides, a.offset());
}

Tensor squeeze(const Tensor& a, int64_t dim) {
  const int64_t d = normalize_dim(dim, a.dim(), "squeeze");
  if (a.shape()[d] != 1)
    throw std::invalid_argument(fmt::format("squeeze: dim {} of shape {} is not 1", d, shape_str(a.shape())));
  Shape shape = a.shape(), strides = a.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return a.as_strided(shape, strides, a.offset());
}

Tensor unsqueeze(const Tensor& a, int64_t dim) {
  const int64_t d = normalize_dim(dim, a.dim() + 1, "unsqueeze");
  Shape shape = a.shape(), strides = a.strides();
  const int64_t stride = d < a.dim() ? a.strides()[d] * a.shape()[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return a.as_strided(shape, strides, a.offset());
}

namespace {
void check_index(const char* op, const Tensor& index) {
  if (index.dtype() != DType::Int64) throw_dtype_error(op, index.dtype(), "int64 indices");
}
// Viewed as [outer, size(dim), inner] of a contiguous tensor.
struct Split3 {
  int64_t outer = 1, mid = 1, inner = 1;
};
Split3 split_at(const Shape& shape, int64_t d) {
  Split3 s;
  for (int64_t i = 0; i < d; ++i) s.outer *= shape[i];
  s.mid = shape[d];
  for (size_t i = static_cast<size_t>(d) + 1; i < shape.size(); ++i) s.inner *= shape[i];
  return s;
}
}  // namespace

Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index) {
  check_index("index_select", index);
  if (index.dim() != 1) throw std::invalid_argument("index_select: index must be 1-D, got " + shape_str(index.shape()));
  const int64_t d = normalize_dim(dim, a.dim(), "index_select");
  Tensor c = a.contiguous(), idx = index.contiguous();
  Shape out_shape = a.shape();
  out_shape[d] = idx.numel();
  Tensor out = Tensor::empty(out_shape, a.dtype());
  const Split3 s = split_at(a.shape(), d);
  const int64_t* ip = idx.data<int64_t>();
  const size_t es = dtype_size(a.dtype());
  const char* src = static_cast<const char*>(c.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (int64_t j = 0; j < idx.numel(); ++j)
    if (ip[j] < 0 || ip[j] >= s.mid)
      throw std::out_of_range(
          fmt::format("index_select: index {} out of range for dim {} of size {}", ip[j], d, s.mid));
  // memcpy per selected row, measured faster than an xrow assignment of the row: that took 1.08-1.19x
  // as long for 128 rows of [2048, 3, 32, 32], 1.28-1.54x for embedding [113, 128] by [512, 3];
  // `bench_kernels 1 index_select embedding` built both ways.
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t j = 0; j < idx.numel(); ++j)
      std::memcpy(dst + ((o * idx.numel() + j) * s.inner) * es, src + ((o * s.mid + ip[j]) * s.inner) * es,
                  static_cast<size_t>(s.inner) * es);
  return out;
}

Tensor gather(const Tensor& a, int64_t dim, const Tensor& index) {
  check_index("gather", index);
  const int64_t d = normalize_dim(dim, a.dim(), "gather");
  if (index.dim() != a.dim())
    throw std::invalid_argument(fmt::format("gather: index {} and input {} differ in number of dims",
                                            shape_str(index.shape()), shape_str(a.shape())));
  for (int64_t i = 0; i < a.dim(); ++i)
    if (i != d && index.shape()[i] > a.shape()[i])
      throw std::invalid_argument(fmt::format("gather: index {} larger than input {} outside dim {}",
                                              shape_str(index.shape()), shape_str(a.shape()), d));
  Tensor idx = index.contiguous();
  Tensor out = Tensor::empty(index.shape(), a.dtype());
  const int64_t* ip = idx.data<int64_t>();
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = a.data<T>();
    T* o = out.data<T>();
    // Walk the index tensor; the source offset uses the index value along `dim`. A hand-written
    // loop: each element has its own index, so there is no row for xtensor; the whole expression
    // (xt::index_view of the (row, index) pairs) took 7.5-7.8x as long on [512, 113] by [512, 1],
    // `bench_kernels 1 gather`.
    Shape src_strides = a.strides();
    Shape walk = src_strides;
    walk[d] = 0;
    int64_t k = 0;
    for_each_strided(idx.shape(), Shape(walk), [&](int64_t base) {
      const int64_t j = ip[k];
      if (j < 0 || j >= a.shape()[d])
        throw std::out_of_range(fmt::format("gather: index {} out of range for dim {} of size {}", j, d, a.shape()[d]));
      o[k++] = src[base + j * src_strides[d]];
    });
  });
  return out;
}

Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src) {
  check_index("scatter_add", index);
  const int64_t d = normalize_dim(dim, static_cast<int64_t>(shape.size()), "scatter_add");
  if (index.shape() != src.shape())
    throw std::invalid_argument(
        fmt::format("scatter_add: index {} and src {} differ", shape_str(index.shape()), shape_str(src.shape())));
  if (index.shape().size() != shape.size())
    throw std::invalid_argument(fmt::format("scatter_add: index {} and output {} differ in number of dims",
                                            shape_str(index.shape()), shape_str(shape)));
  for (size_t i = 0; i < shape.size(); ++i)
    if (static_cast<int64_t>(i) != d && index.shape()[i] > shape[i])
      throw std::invalid_argument(fmt::format("scatter_add: index {} larger than output {} outside dim {}",
                                              shape_str(index.shape()), shape_str(shape), d));
  Tensor out = Tensor::zeros(shape, src.dtype());
  Tensor idx = index.contiguous(), s = src.contiguous();
  const int64_t* ip = idx.data<int64_t>();
  dispatch_all(src.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* sp = s.data<T>();
    Shape walk = out.strides();
    walk[d] = 0;
    int64_t k = 0;
    for_each_strided(idx.shape(), walk, [&](int64_t base) {
      const int64_t j = ip[k];
      if (j < 0 || j >= shape[d])
        throw std::out_of_range(
            fmt::format("scatter_add: index {} out of range for dim {} of size {}", j, d, shape[d]));
      o[base + j * out.strides()[d]] += sp[k];
      ++k;
    });
  });
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& index) {
  Tensor flat = index_select(weight, 0, reshape(index, {-1}));
  Shape shape = index.shape();
  for (int64_t d = 1; d < weight.dim(); ++d) shape.push_back(weight.shape()[d]);
  return reshape(flat, shape);
}

Tensor embedding_backward(const Tensor& grad, const Tensor& index, int64_t num_rows) {
  check_index("embedding_backward", index);
  Tensor idx = index.contiguous(), g = grad.contiguous();
  const int64_t n = idx.numel();
  const int64_t row = n == 0 ? 0 : g.numel() / n;
  Shape out_shape = {num_rows};
  for (int64_t d = index.dim(); d < grad.dim(); ++d) out_shape.push_back(grad.shape()[d]);
  Tensor out = Tensor::zeros(out_shape, grad.dtype());
  dispatch_float(grad.dtype(), "embedding_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t* ip = idx.data<int64_t>();
    const T* gp = g.data<T>();
    T* o = out.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      if (ip[i] < 0 || ip[i] >= num_rows)
        throw std::out_of_range(fmt::format("embedding: index {} out of range for {} rows", ip[i], num_rows));
      T* dst = o + ip[i] * row;
      const T* src = gp + i * row;
      for (int64_t k = 0; k < row; ++k) dst[k] += src[k];
    }
  });
  return out;
}

Tensor cat(const std::vector<Tensor>& parts, int64_t dim) {
  if (parts.empty()) throw std::invalid_argument("cat: no tensors given");
  const Tensor& first = parts[0];
  const int64_t d = normalize_dim(dim, first.dim(), "cat");
  Shape out_shape = first.shape();
  out_shape[d] = 0;
  for (const Tensor& p : parts) {
    if (p.dim() != first.dim() || p.dtype() != first.dtype())
      throw std::invalid_argument(fmt::format("cat: {} ({}) does not match {} ({})", shape_str(p.shape()),
                                              dtype_name(p.dtype()), shape_str(first.shape()),
                                              dtype_name(first.dtype())));
    for (int64_t i = 0; i < first.dim(); ++i)
      if (i != d && p.shape()[i] != first.shape()[i])
        throw std::invalid_argument(fmt::format("cat: shapes {} and {} differ outside dim {}", shape_str(p.shape()),
                                                shape_str(first.shape()), d));
    out_shape[d] += p.shape()[d];
  }
  Tensor out = Tensor::empty(out_shape, first.dtype());
  int64_t at = 0;
  for (const Tensor& p : parts) {
    narrow(out, d, at, p.shape()[d]).copy_(p);
    at += p.shape()[d];
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& parts, int64_t dim) {
  if (parts.empty()) throw std::invalid_argument("stack: no tensors given");
  std::vector<Tensor> expanded;
  expanded.reserve(parts.size());
  const int64_t d = normalize_dim(dim, parts[0].dim() + 1, "stack");
  for (const Tensor& p : parts) {
    if (p.shape() != parts[0].shape())
      throw std::invalid_argument(
          fmt::format("stack: shapes {} and {} differ", shape_str(p.shape()), shape_str(parts[0].shape())));
    expanded.push_back(unsqueeze(p, d));
  }
  return cat(expanded, d);
}

}  // namespace pathgrad::kernel
