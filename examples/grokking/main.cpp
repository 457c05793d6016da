// The grokking example: trains the ExPLAIND paper's transformer on modular addition, explains it
// with the path-kernel tracker, and writes a report. `grokking --help` lists every setting.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <exception>

#include "examples/grokking/run.hpp"

int main(int argc, char** argv) {
  using namespace pathgrad::grokking;
  Config config;
  CLI::App app("Grokking on modular addition, explained by the exact path kernel (pathgrad).\n"
               "Writes the data split, weights, metrics, the tracker's exports and report.html into --out.");
  add_flags(app, config);
  CLI11_PARSE(app, argc, argv);
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  try {
    const RunResult result = run(config, command_line);
    return result.training.interrupted ? 130 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "grokking: {}\n", e.what());
    return 1;
  }
}
