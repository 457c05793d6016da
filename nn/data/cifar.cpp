// CIFAR-10 binary batches: file and directory checks, record decoding, both splits.
#include "nn/data/cifar.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "tensor/kernels.hpp"

namespace pathgrad::nn::data {
namespace {

constexpr const char* kExpected =
    "CIFAR-10 binary batches were expected (data_batch_1.bin ... data_batch_5.bin and test_batch.bin: "
    "records of 1 label byte + 3072 pixel bytes)";

std::vector<std::string> split_files(CifarSplit split) {
  if (split == CifarSplit::Test) return {"test_batch.bin"};
  std::vector<std::string> names;
  for (int i = 1; i <= 5; ++i) names.push_back(fmt::format("data_batch_{}.bin", i));
  return names;
}

// The number of records in a CIFAR-10 binary file, after checking that it exists and that its
// size is a positive multiple of the record size.
int64_t count_records(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    throw std::runtime_error(fmt::format("CIFAR-10: file {} not found; {}", path, kExpected));
  const auto size = static_cast<int64_t>(std::filesystem::file_size(path));
  if (size == 0 || size % kCifarRecordBytes != 0)
    throw std::runtime_error(
        fmt::format("CIFAR-10: {} has {} bytes, expected a positive multiple of the record size {} (1 label byte + "
                    "{} pixel bytes); the file is truncated or not a CIFAR-10 binary batch",
                    path, size, kCifarRecordBytes, kCifarImageBytes));
  return size / kCifarRecordBytes;
}

// The records of `paths`, concatenated in order, read straight into one pair of tensors.
ImageSet read_cifar10_files(const std::vector<std::string>& paths) {
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const std::string& path : paths) total += counts.emplace_back(count_records(path));
  ImageSet set{Tensor::zeros({total, 3, 32, 32}, DType::UInt8), Tensor::zeros({total}, DType::Int64)};
  char* images = reinterpret_cast<char*>(set.images.data<uint8_t>());
  int64_t* labels = set.labels.data<int64_t>();
  int64_t at = 0;
  for (size_t f = 0; f < paths.size(); ++f) {
    std::ifstream in(paths[f], std::ios::binary);
    for (int64_t i = at; i < at + counts[f]; ++i) {
      char label = 0;
      in.read(&label, 1);
      in.read(images + i * kCifarImageBytes, kCifarImageBytes);
      labels[i] = static_cast<uint8_t>(label);
    }
    if (!in) throw std::runtime_error(fmt::format("CIFAR-10: cannot read {}", paths[f]));
    check_labels(kernel::narrow(set.labels, 0, at, counts[f]), kCifarClasses, "CIFAR-10: " + paths[f]);
    at += counts[f];
  }
  return set;
}

}  // namespace

ImageSet read_cifar10_file(const std::string& path) { return read_cifar10_files({path}); }

ImageSet read_cifar10_split(const std::string& dir, CifarSplit split) {
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error(fmt::format("CIFAR-10: directory {} does not exist; {}", dir, kExpected));
  std::vector<std::string> paths;
  for (const std::string& name : split_files(split)) paths.push_back((std::filesystem::path(dir) / name).string());
  return read_cifar10_files(paths);
}

ImageSplits load_cifar10(const std::string& dir, const ImageOptions& options) {
  return prepare_image_splits(read_cifar10_split(dir, CifarSplit::Train), read_cifar10_split(dir, CifarSplit::Test),
                              options, kCifarClasses, "CIFAR-10 " + dir);
}

}  // namespace pathgrad::nn::data
