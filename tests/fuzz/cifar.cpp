// libFuzzer target: read_cifar10_file on arbitrary bytes (record count, label range).
#include "nn/data/cifar.hpp"

#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = pathgrad::fuzz::write_input(data, size, "data_batch_1.bin");
  pathgrad::fuzz::expect_clean([&] { pathgrad::nn::data::read_cifar10_file(path); });
  return 0;
}
