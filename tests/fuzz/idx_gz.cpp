// libFuzzer target: the IDX readers on a valid .gz stream of arbitrary bytes, so the mutations
// explore the IDX header and sizes behind the decompression (idx.cpp mutates the gzip bytes).
#include <zlib.h>

#include "nn/data/idx.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = pathgrad::fuzz::scratch_dir() + "/input-idx.gz";
  gzFile out = gzopen(path.c_str(), "wb1");
  if (!out || (size > 0 && gzwrite(out, data, static_cast<unsigned>(size)) != static_cast<int>(size)) ||
      gzclose(out) != Z_OK)
    std::abort();
  pathgrad::fuzz::expect_clean([&] { pathgrad::nn::data::read_idx_images(path); });
  pathgrad::fuzz::expect_clean([&] { pathgrad::nn::data::read_idx_labels(path); });
  return 0;
}
