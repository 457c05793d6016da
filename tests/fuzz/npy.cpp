// libFuzzer target: load_npy on arbitrary bytes (magic, version, header dict, shape, data size).
#include "tensor/npy.hpp"

#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = pathgrad::fuzz::write_input(data, size, "input.npy");
  pathgrad::fuzz::expect_clean([&] { pathgrad::load_npy(path); });
  return 0;
}
