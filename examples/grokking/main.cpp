// The grokking example: trains the ExPLAIND paper's transformer on modular addition, explains it
// with the path-kernel tracker, and writes a report. `grokking --help` lists every setting.
#include "examples/common/program.hpp"
#include "examples/grokking/run.hpp"

int main(int argc, char** argv) {
  using namespace pathgrad::grokking;
  Config config;
  CLI::App app(
      "Grokking on modular addition, explained by the exact path kernel (pathgrad).\n"
      "Writes the data split, weights, metrics, the tracker's exports and report.html into --out.");
  add_flags(app, config);
  return pathgrad::examples::run_program(app, argc, argv, "grokking", [&](const std::string& command_line) {
    return run(config, command_line).training.interrupted;
  });
}
