// The CIFAR-2 example: trains the ExPLAIND paper's ResNet-9 on cats vs dogs, explains it with the
// path-kernel tracker, and writes a report. `cifar2 --help` lists every setting.
#include "examples/cifar2/run.hpp"
#include "examples/common/program.hpp"

int main(int argc, char** argv) {
  using namespace pathgrad::cifar2;
  Config config;
  CLI::App app(
      "CIFAR-2 (cats vs dogs) with the paper's ResNet-9, explained by the exact path kernel (pathgrad).\n"
      "Writes weights, metrics, the tracker's exports and report.html into --out.");
  add_flags(app, config);
  return pathgrad::examples::run_program(app, argc, argv, "cifar2", [&](const std::string& command_line) {
    return run(config, command_line).training.interrupted;
  });
}
