// libFuzzer target: load_safetensors on arbitrary bytes (header length, JSON header, offsets, data).
#include "tensor/safetensors.hpp"

#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = pathgrad::fuzz::write_input(data, size, "input.safetensors");
  pathgrad::fuzz::expect_clean([&] { pathgrad::load_safetensors(path); });
  return 0;
}
