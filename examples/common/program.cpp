// Flag parsing and exit statuses shared by the example programs.
#include "examples/common/program.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "optim/communicator.hpp"

namespace pathgrad::examples {

int run_program(CLI::App& app, int argc, char** argv, const std::string& name,
                const std::function<bool(const std::string& command_line)>& run) {
  const optim::Communicator& comm = optim::Communicator::world();
  if (!comm.is_root() && std::freopen("/dev/null", "w", stdout) == nullptr)  // rank 0 prints the progress
    fmt::print(stderr, "{} (rank {}): cannot silence stdout\n", name, comm.rank());
  CLI11_PARSE(app, argc, argv);
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  try {
    return run(command_line) ? 130 : 0;
  } catch (const std::exception& e) {
    if (comm.size() == 1) {
      fmt::print(stderr, "{}: {}\n", name, e.what());
      return 1;
    }
    fmt::print(stderr, "{} (rank {} of {}): {}\n", name, comm.rank(), comm.size(), e.what());
    comm.abort(1);  // the other ranks may be waiting for this one
  }
}

}  // namespace pathgrad::examples
