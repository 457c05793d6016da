// Finding and running gnuplot, quoting for its scripts, and the scratch directory of a run.
#include "explaind/report/gnuplot.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "tensor/atomic_file.hpp"

extern char** environ;

namespace pathgrad::explaind::report {

namespace fs = std::filesystem;

namespace {

bool is_executable_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

// The last `limit` bytes of `text`, so that an error message stays readable.
std::string tail(const std::string& text, std::size_t limit) {
  if (text.size() <= limit) return text;
  return "...\n" + text.substr(text.size() - limit);
}

}  // namespace

std::string find_gnuplot(const std::string& requested) {
  std::string name = requested;
  std::string source = "the figure's gnuplot option";
  if (name.empty()) {
    const char* env = std::getenv("PATHGRAD_GNUPLOT");
    if (env != nullptr && *env != '\0') {
      name = env;
      source = "PATHGRAD_GNUPLOT";
    } else {
      name = "gnuplot";
      source = "the default";
    }
  }
  if (name.find('/') != std::string::npos) {
    if (is_executable_file(name)) return name;
    throw std::runtime_error(fmt::format("gnuplot not found: '{}' (from {}) is not an executable file", name, source));
  }
  const char* path_env = std::getenv("PATH");
  std::string_view dirs = path_env != nullptr ? path_env : "";
  while (true) {
    const std::size_t colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  throw std::runtime_error(
      fmt::format("gnuplot not found: no executable '{}' (from {}) on PATH; install gnuplot (Debian: gnuplot-nox) "
                  "or set PATHGRAD_GNUPLOT to its path",
                  name, source));
}

std::string gnuplot_quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + '"';
}

ScratchDir::ScratchDir() {
  std::string pattern = (fs::temp_directory_path() / "pathgrad-plot-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error(fmt::format("cannot create a temporary directory {}: {}", pattern, std::strerror(errno)));
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string ScratchDir::write(std::string_view stem, std::string_view bytes) {
  const std::string file = fmt::format("{}/{}-{}", path_, stem, files_++);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write the temporary file " + file);
  return file;
}

void run_gnuplot(const std::string& executable, const std::string& script_path, const std::string& what) {
  const std::string stderr_path = script_path + ".stderr";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> args = {executable, "-d", script_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, executable.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0)
    throw std::runtime_error(
        fmt::format("{}: cannot run gnuplot '{}': {}", what, executable, std::strerror(spawn_error)));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      throw std::runtime_error(fmt::format("{}: waiting for gnuplot failed: {}", what, std::strerror(errno)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string errors;
  try {
    errors = tail(read_file(stderr_path), 4000);
  } catch (const std::runtime_error&) {
    errors = "(stderr unavailable)";
  }
  const std::string how = WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                            : fmt::format("signal {}", WTERMSIG(status));
  throw std::runtime_error(fmt::format("{}: gnuplot '{}' failed ({}); its stderr:\n{}", what, executable, how,
                                       errors.empty() ? "(empty)" : errors));
}

}  // namespace pathgrad::explaind::report
