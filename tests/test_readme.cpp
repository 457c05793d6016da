// The README's code block is the core of examples/mlp/main.cpp, word for word, and that program
// runs: it trains, tracks at the sample level and reproduces its probes with the kernel machine.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tensor/atomic_file.hpp"
#include "tests/doc_sync.hpp"

using pathgrad::read_file;
namespace fs = std::filesystem;

namespace {
std::string env(const char* name) {
  const char* value = std::getenv(name);
  REQUIRE_MESSAGE(value != nullptr, name, " is not set (tests/meson.build sets it)");
  return value;
}

}  // namespace

TEST_CASE("the README's code block is examples/mlp/main.cpp's, unchanged") {
  using doc_sync::between, doc_sync::source_file;
  const std::string readme = between(source_file("README.md"), "```cpp\n", "```\n");
  const std::string program = between(source_file("examples/mlp/main.cpp"), "// README begin\n", "// README end\n");
  CHECK(readme == program);
}

TEST_CASE("the smallest example trains, tracks and reproduces its probes") {
  const std::string out = (fs::temp_directory_path() / "pathgrad_test_example_mlp").string();
  fs::remove_all(out);
  const std::string command = env("PATHGRAD_MLP") + " " + out + " > " + out + ".log 2>&1";
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, read_file(out + ".log"));
  const std::string log = read_file(out + ".log");
  CHECK(log.find("replica: max |error|") != std::string::npos);
  CHECK(log.find("training images that raised log p(label) of test image 0 the most") != std::string::npos);
  const nlohmann::json s = nlohmann::json::parse(read_file(out + "/explaind/summary.json"));
  CHECK(s["steps"] == 40);
  // The adaptive refinement holds each step's residual under 1e-9 (absolute; the tracker's
  // default): over 40 steps at most 4e-8, against a mean change of ~0.7.
  CHECK(s["replica"]["max_abs_error"].get<double>() < 1e-6 * s["replica"]["change_scale"].get<double>());
  // float32 training against float64 shares: ~1e-5 (docs/explaind-exports.md).
  CHECK(s["marginal_mismatch"].get<double>() < 1e-4);
}
