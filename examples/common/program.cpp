// Flag parsing and exit statuses shared by the example programs.
#include "examples/common/program.hpp"

#include <fmt/format.h>

#include <exception>

namespace pathgrad::examples {

int run_program(CLI::App& app, int argc, char** argv, const std::string& name,
                const std::function<bool(const std::string& command_line)>& run) {
  CLI11_PARSE(app, argc, argv);
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  try {
    return run(command_line) ? 130 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", name, e.what());
    return 1;
  }
}

}  // namespace pathgrad::examples
