// Run-directory checks and session records shared by the examples.
#include "examples/common/run_session.hpp"

#include <algorithm>
#include <filesystem>

#include "optim/checkpoint.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/json_file.hpp"

namespace pathgrad::examples {

namespace fs = std::filesystem;

namespace {
// `j` without the ignored sections and fields.
nlohmann::json without(nlohmann::json j, const std::vector<std::string>& ignored) {
  for (const std::string& name : ignored) {
    const auto dot = name.find('.');
    if (dot == std::string::npos)
      j.erase(name);
    else if (j.contains(name.substr(0, dot)))
      j[name.substr(0, dot)].erase(name.substr(dot + 1));
  }
  return j;
}
}  // namespace

void check_same_settings(const nlohmann::json& now_all, const nlohmann::json& saved, const std::string& saved_path,
                         const std::vector<std::string>& ignored) {
  const nlohmann::json now = without(now_all, ignored), before = without(saved, ignored);
  std::string diffs;
  for (const auto& [section, fields] : now.items())
    for (const auto& [key, value] : fields.items()) {
      const nlohmann::json was =
          before.contains(section) ? before[section].value(key, nlohmann::json()) : nlohmann::json();
      if (was == value) continue;
      std::string flag = key;
      std::replace(flag.begin(), flag.end(), '_', '-');
      diffs += fmt::format("\n  --{}: {} in {}, {} now", flag, was.dump(), saved_path, value.dump());
    }
  if (!diffs.empty())
    throw std::invalid_argument("--resume: these settings differ from the run being resumed (pass the same flags):" +
                                diffs);
}

bool prepare_run_dir(const RunDir& dir, bool resume,
                     const std::function<void(const nlohmann::json&)>& check_resumable) {
  const bool has_checkpoint = optim::checkpoint_exists(dir.checkpoint());
  if (!resume) {
    if (has_checkpoint)
      throw std::invalid_argument(fmt::format(
          "--out {} already holds a run ({}): pass --resume to continue it (or, when its training has finished, to "
          "write its exports and report again), or choose another --out",
          dir.root, dir.checkpoint()));
    if (fs::exists(dir.config()))
      throw std::invalid_argument(fmt::format(
          "--out {} holds a run that stopped before its first checkpoint ({} but no {}): pass --resume to start it "
          "again from step 0, or choose another --out",
          dir.root, dir.config(), dir.checkpoint()));
    return false;
  }
  if (!fs::exists(dir.config()))
    throw std::invalid_argument(fmt::format("--resume: {} does not exist: --out names no run", dir.config()));
  check_resumable(read_json_file(dir.config()));
  if (!has_checkpoint)
    fmt::print(
        "--resume: {} holds no checkpoint yet (the run stopped before its first): starting it again from step 0\n",
        dir.root);
  return has_checkpoint;
}

void record_session(const RunDir& dir, const nlohmann::json& config, const std::string& command_line) {
  fs::create_directories(dir.weights_dir());
  write_file_atomically(dir.config(), config.dump(2) + "\n");
  const std::string earlier_commands = fs::exists(dir.command()) ? read_file(dir.command()) : std::string();
  write_file_atomically(dir.command(), earlier_commands + command_line + "\n");
}

}  // namespace pathgrad::examples
