// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed, and a Fashion-MNIST
// loader.
//
// Format: a big-endian header — magic 0x00000803 for images (uint8, 3 dims) or 0x00000801 for
// labels (uint8, 1 dim), then one 32-bit big-endian size per dim — followed by exactly the product
// of the sizes in bytes, row-major.
//
// Files are read through zlib's gzopen/gzread, which decompress a gzip file and pass a plain file
// through unchanged: one code path for both, and the distributed files are `*-ubyte.gz`. zlib is
// already a project dependency (Debian's zlib1g-dev), so no external gunzip step is needed.
#pragma once

#include <string>

#include "nn/data/image_set.hpp"

namespace pathgrad::nn::data {

// Where Debian's dataset-fashion-mnist package installs the files.
inline constexpr const char* kDebianFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr int64_t kFashionMnistClasses = 10;

// Images uint8 [N, rows, cols]. Throws std::runtime_error naming the path when the file cannot be
// opened or decompressed, is shorter than its header, has another magic number (expected vs
// found), or holds another number of pixel bytes than the header announces (expected vs found).
Tensor read_idx_images(const std::string& path);
// Labels as int64 [N]; the same checks with magic 0x00000801.
Tensor read_idx_labels(const std::string& path);
// An images file and its labels file as uint8 [N, 1, rows, cols] and int64 [N]. Throws
// std::runtime_error naming both paths when their counts differ.
ImageSet read_idx_pair(const std::string& images_path, const std::string& labels_path);

// Fashion-MNIST's train (60,000) and test (10,000) sets from `dir`, which holds
// {train,t10k}-{images-idx3,labels-idx1}-ubyte, each either gzip-compressed (".gz", preferred when
// both exist) or plain; float32 [N, 1, 28, 28] pixels, filtered and normalised as `options` say.
// Throws std::runtime_error naming the directory and both candidate names of a missing file, or
// for a label outside 0..9.
ImageSplits load_fashion_mnist(const std::string& dir = kDebianFashionMnistDir, const ImageOptions& options = {});

}  // namespace pathgrad::nn::data
