// Checks of example runs for the end-to-end tests: the report's figures exist; a run paused and
// resumed; two runs' weights equal bit for bit, their exported arrays by their largest difference.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "tensor/atomic_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/npy.hpp"
#include "tensor/safetensors.hpp"

namespace run_compare {

// The number of figures <run>/report.md shows; checks that each one's image is in the run
// directory and not trivially small.
inline int64_t check_report_figures(const std::string& run) {
  const std::string md = pathgrad::read_file(run + "/report.md");
  const std::regex image(R"(!\[[^\]]*\]\(([^)]+)\))");
  int64_t figures = 0;
  for (auto it = std::sregex_iterator(md.begin(), md.end(), image); it != std::sregex_iterator(); ++it, ++figures)
    CHECK_MESSAGE(std::filesystem::file_size(run + "/" + (*it)[1].str()) > 1000, (*it)[1].str());
  return figures;
}

// Every tensor of two safetensors files is bit-identical (same names, same order).
inline void check_same_weights(const std::string& a, const std::string& b) {
  using namespace pathgrad;
  const SafetensorsContents x = load_safetensors(a), y = load_safetensors(b);
  REQUIRE(x.tensors.size() == y.tensors.size());
  for (size_t i = 0; i < x.tensors.size(); ++i) {
    INFO(x.tensors[i].first);
    CHECK(x.tensors[i].first == y.tensors[i].first);
    CHECK(kernel::amax(kernel::abs(kernel::sub(x.tensors[i].second, y.tensors[i].second))).item() == 0.0);
  }
}

// Runs `part` paused after step `pause_step`, then resumed with --resume to the end, checking
// where each session stopped (`run`: the example's run(config, command_line)).
template <class Config, class RunFn>
void run_paused_and_resumed(Config part, int64_t pause_step, int64_t steps, RunFn run) {
  part.stop_after = pause_step;
  const auto paused = run(part, "first part");
  CHECK(paused.training.interrupted);
  CHECK(paused.training.steps == pause_step);
  part.resume = true;
  part.stop_after = 0;
  CHECK(run(part, "resumed").training.steps == steps);
}

// Largest |a - b| of two .npy arrays of the same shape.
inline double max_abs_diff_npy(const std::string& a, const std::string& b) {
  using namespace pathgrad;
  return kernel::amax(kernel::abs(kernel::sub(load_npy(a), load_npy(b)))).item();
}

}  // namespace run_compare
