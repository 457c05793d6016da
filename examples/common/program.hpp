// The main() of an example program: flags, the command line as recorded, the exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace pathgrad::examples {

// Parses argv with `app` (whose flags fill the example's config), then calls run(command_line)
// with the command line joined by spaces; `run` returns true when the run paused (Ctrl-C,
// --stop-after). Returns the exit status: CLI11's for --help and bad flags, 130 when paused, 1
// after printing "<name>: <error>" to stderr for an exception, else 0. Under mpirun
// (optim/communicator.hpp) only rank 0 writes to stdout, and an exception on any rank, printed as
// "<name> (rank r of R): <error>", ends every rank with status 1.
int run_program(CLI::App& app, int argc, char** argv, const std::string& name,
                const std::function<bool(const std::string& command_line)>& run);

}  // namespace pathgrad::examples
