// Label checks, class filtering, [0, 1] scaling and normalisation of labelled image sets.
#include "nn/data/image_set.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>

#include "tensor/kernels.hpp"

namespace pathgrad::nn::data {
namespace {

// uint8 [N, C, H, W] -> float32 byte / 255.
Tensor to_unit_float(const Tensor& images) {
  const Tensor c = images.contiguous();
  Tensor out = Tensor::zeros(images.shape(), DType::Float32);
  const uint8_t* src = c.data<uint8_t>();
  float* dst = out.data<float>();
  const int64_t n = out.numel();
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;
  return out;
}

}  // namespace

void check_labels(const Tensor& labels, int64_t num_classes, const std::string& source) {
  const Tensor c = labels.contiguous();
  const int64_t* p = c.data<int64_t>();
  const int64_t n = c.numel();
  for (int64_t i = 0; i < n; ++i)
    if (p[i] < 0 || p[i] >= num_classes)
      throw std::runtime_error(
          fmt::format("{}: label {} at record {}, expected a class in [0, {})", source, p[i], i, num_classes));
}

ImageSet select_classes(const ImageSet& set, const std::vector<int64_t>& classes, int64_t num_classes,
                        const std::string& source) {
  std::vector<int64_t> new_label(static_cast<size_t>(num_classes), -1);
  for (size_t k = 0; k < classes.size(); ++k) {
    const int64_t c = classes[k];
    if (c < 0 || c >= num_classes)
      throw std::invalid_argument(
          fmt::format("class filter {}: expected classes in [0, {}), found {}", classes, num_classes, c));
    if (new_label[static_cast<size_t>(c)] >= 0)
      throw std::invalid_argument(fmt::format("class filter {}: class {} is listed twice", classes, c));
    new_label[static_cast<size_t>(c)] = static_cast<int64_t>(k);
  }
  check_labels(set.labels, num_classes, source);
  const Tensor labels = set.labels.contiguous();
  const int64_t* p = labels.data<int64_t>();
  std::vector<int64_t> keep, relabelled;
  const int64_t total = set.size();
  for (int64_t i = 0; i < total; ++i)
    if (const int64_t l = new_label[static_cast<size_t>(p[i])]; l >= 0) {
      keep.push_back(i);
      relabelled.push_back(l);
    }
  if (keep.empty()) throw std::runtime_error(fmt::format("{}: no example of the classes {}", source, classes));
  const int64_t n = static_cast<int64_t>(keep.size());
  const Tensor images = n == total ? set.images : kernel::index_select(set.images, 0, Tensor::from_vector(keep, {n}));
  return {images, Tensor::from_vector(relabelled, {n})};
}

ImageSplits prepare_image_splits(const ImageSet& train, const ImageSet& test, const ImageOptions& options,
                                 int64_t num_classes, const std::string& source) {
  const auto prepare = [&](const ImageSet& set) {
    const ImageSet kept = options.classes().empty() ? set : select_classes(set, options.classes(), num_classes, source);
    return ImageSet{to_unit_float(kept.images), kept.labels};
  };
  ImageSplits splits{prepare(train), prepare(test), {}};
  if (options.normalize()) {
    splits.stats = options.stats().mean.empty() ? channel_stats(splits.train.images) : options.stats();
    normalize_channels_(splits.train.images, splits.stats);
    normalize_channels_(splits.test.images, splits.stats);
  }
  return splits;
}

}  // namespace pathgrad::nn::data
