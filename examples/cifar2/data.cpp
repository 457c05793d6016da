// Loading and cutting the CIFAR-2 data.
#include "examples/cifar2/data.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "examples/common/require_flag.hpp"
#include "nn/data/cifar.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::cifar2 {

nn::data::ChannelStats cifar10_stats() { return {{0.4914, 0.4822, 0.4465}, {0.2023, 0.1994, 0.2010}}; }

nn::data::ImageSplits load_data(const Config& c) {
  examples::require_flag(
      std::filesystem::is_directory(c.data_dir), "data",
      fmt::format("{} is not a directory (the CIFAR-2 binary batches: see ../shared/data/README.md)", c.data_dir));
  nn::data::ImageSplits splits =
      nn::data::load_cifar10(c.data_dir, nn::data::ImageOptions().classes({3, 5}).stats(cifar10_stats()));
  const int64_t available = splits.train.size();
  examples::require_flag(
      c.train_images <= available, "train-images",
      fmt::format("{} asks for more than the {} training images in {}", c.train_images, available, c.data_dir));
  const int64_t importance_max = std::max<int64_t>(0, splits.test.size() - kPruningEvalImages);
  examples::require_flag(c.importance_images <= importance_max, "importance-images",
                         fmt::format("{} leaves fewer than {} of the {} test images to evaluate the pruned models "
                                     "(at most {})",
                                     c.importance_images, kPruningEvalImages, splits.test.size(), importance_max));
  if (c.train_images > 0 && c.train_images < available)
    splits.train = {kernel::narrow(splits.train.images, 0, 0, c.train_images).contiguous(),
                    kernel::narrow(splits.train.labels, 0, 0, c.train_images).contiguous()};
  return splits;
}

}  // namespace pathgrad::cifar2
