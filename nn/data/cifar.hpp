// CIFAR-10 in its binary distribution format (the `cifar-10-batches-bin` directory).
//
// Format: each file is a sequence of 3,073-byte records: 1 label byte (0..9: airplane,
// automobile, bird, cat, deer, dog, frog, horse, ship, truck) followed by 3,072 pixel bytes — the
// 32×32 red plane, then green, then blue, each row-major. That is exactly the layout of one
// uint8 [3, 32, 32] image. The training set is data_batch_1.bin … data_batch_5.bin (in that
// order), the test set test_batch.bin. Any number of records per file is accepted, so subsets in
// the same format (such as the shared cats-vs-dogs set) read unchanged.
//
//   ImageSplits cifar2 = load_cifar10(dir, ImageOptions().classes({3, 5}).normalize(true));
//   // cifar2.train.images: float32 [10000, 3, 32, 32], labels int64 [10000] in {0 (cat), 1 (dog)}
#pragma once

#include <string>

#include "nn/data/image_set.hpp"

namespace pathgrad::nn::data {

enum class CifarSplit { Train, Test };

inline constexpr int64_t kCifarClasses = 10;
inline constexpr int64_t kCifarImageBytes = 3 * 32 * 32;
inline constexpr int64_t kCifarRecordBytes = 1 + kCifarImageBytes;

// The records of one file: images uint8 [N, 3, 32, 32], labels int64 [N]. Throws
// std::runtime_error naming the path when the file is missing or unreadable ("CIFAR-10 binary
// batches were expected"), when its size is 0 or not a multiple of 3,073 bytes, or when a label
// is above 9 (the record and the value).
ImageSet read_cifar10_file(const std::string& path);

// All files of a split in `dir`, concatenated in file order. Throws std::runtime_error naming
// the directory when it does not exist, and as read_cifar10_file() for each file.
ImageSet read_cifar10_split(const std::string& dir, CifarSplit split);

// Both splits of `dir` as float32 pixels, filtered and normalised as `options` say (training-set
// statistics unless given; see ImageOptions).
ImageSplits load_cifar10(const std::string& dir, const ImageOptions& options = {});

}  // namespace pathgrad::nn::data
