// libFuzzer target: the IDX readers (images and labels) on arbitrary bytes, which zlib reads as a
// plain file or, when they start with the gzip magic, as a (possibly corrupt) .gz stream.
#include "nn/data/idx.hpp"

#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = pathgrad::fuzz::write_input(data, size, "input-idx");
  pathgrad::fuzz::expect_clean([&] { pathgrad::nn::data::read_idx_images(path); });
  pathgrad::fuzz::expect_clean([&] { pathgrad::nn::data::read_idx_labels(path); });
  return 0;
}
