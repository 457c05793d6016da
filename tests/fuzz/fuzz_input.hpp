// Shared by the fuzz targets: the loaders read files, so each input is first written to a scratch
// file; a std::exception is the correct answer to a bad input, while a bare nlohmann exception or
// std::bad_alloc (a header's claim taken at face value) is a finding and aborts like a crash.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace pathgrad::fuzz {

// A directory of this process's own under the system temp dir, made on first use.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const auto d = std::filesystem::temp_directory_path() / ("pathgrad_fuzz_" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

// Writes `size` bytes at `data` to scratch_dir()/name (replacing it) and returns the path.
inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) std::abort();  // the scratch disk is full: not the loader's fault, stop the run
  return path;
}

// Runs `load` on one input: returns normally when it succeeds or throws a std::exception of its own.
template <class F>
void expect_clean(F&& load) {
  try {
    load();
  } catch (const nlohmann::json::exception& e) {
    std::fprintf(stderr, "finding: a bare nlohmann exception escaped: %s\n", e.what());
    std::abort();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "finding: std::bad_alloc (an allocation sized by the file?)\n");
    std::abort();
  } catch (const std::exception&) {
  }
}

}  // namespace pathgrad::fuzz
