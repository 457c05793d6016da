// Training checkpoints: the staging directory and its atomic installation, state.json, and the
// all-or-nothing restore.
#include "optim/checkpoint.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "nn/data/generator_json.hpp"
#include "nn/init.hpp"
#include "nn/serialize.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/fault_point.hpp"
#include "tensor/json_file.hpp"
#include "tensor/safetensors.hpp"

namespace pathgrad::optim {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kStateFile = "state.json";  // written last: its presence marks completeness
constexpr const char* kFormat = "pathgrad-checkpoint";
constexpr int kVersion = 1;
constexpr const char* kFloatKey = "pathgrad.float";  // {"pathgrad.float": "nan"}: a non-finite number

// The checkpoint directory as an absolute path without a trailing separator ("run/ckpt/" and
// "run/ckpt" are the same directory), so that "<dir>.tmp" is its sibling.
fs::path directory_path(const std::string& dir, const char* who) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  if (dir.empty() || p.filename().empty())
    throw std::invalid_argument(fmt::format("{}: '{}' cannot be a checkpoint directory", who, dir));
  return p;
}

fs::path sibling(const fs::path& dir, const char* suffix) {
  return dir.parent_path() / (dir.filename().string() + suffix);
}

void check_generators(const NamedGenerators& generators, const char* who) {
  std::set<std::string> names;
  for (const auto& [name, gen] : generators)
    if (name.empty() || gen == nullptr || !names.insert(name).second)
      throw std::invalid_argument(fmt::format("{}: generator '{}' is unnamed, null or passed twice", who, name));
}

void check_parts(const std::vector<CheckpointPart>& parts) {
  std::set<std::string> names;
  for (const CheckpointPart& part : parts) {
    const std::string& n = part.name;
    const bool reserved = n == kModelFile || n == kOptimizerFile || n == kStateFile;
    if (n.empty() || n == "." || n == ".." || n.find('/') != std::string::npos || reserved || !part.save ||
        !names.insert(n).second)
      throw std::invalid_argument(fmt::format(
          "save_checkpoint: part '{}' needs a unique name that is one path component and not a checkpoint file, and "
          "a save function",
          n));
  }
}

// `j` rewritten top-down: where replace(node) gives a value, it takes the node's place; elsewhere
// arrays and objects are rebuilt around their rewritten members.
template <class Replace>
Json rewrite(const Json& j, const Replace& replace) {
  if (std::optional<Json> r = replace(j)) return *r;
  if (!j.is_structured()) return j;
  Json out = j.is_array() ? Json::array() : Json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (j.is_array())
      out.push_back(rewrite(*it, replace));
    else
      out[it.key()] = rewrite(*it, replace);
  }
  return out;
}

// JSON has no NaN or infinity (nlohmann writes null): such numbers in `extra` are kept as
// {"pathgrad.float": "nan" | "inf" | "-inf"}, and read back.
Json encode_nonfinite(const Json& j) {
  return rewrite(j, [](const Json& v) -> std::optional<Json> {
    if (!v.is_number_float() || std::isfinite(v.get<double>())) return std::nullopt;
    const double x = v.get<double>();
    return Json{{kFloatKey, std::isnan(x) ? "nan" : x > 0 ? "inf" : "-inf"}};
  });
}

Json decode_nonfinite(const Json& j) {
  return rewrite(j, [](const Json& v) -> std::optional<Json> {
    if (!v.is_object() || v.size() != 1 || !v.contains(kFloatKey) || !v[kFloatKey].is_string()) return std::nullopt;
    const std::string name = v[kFloatKey];
    if (name == "nan") return Json(std::numeric_limits<double>::quiet_NaN());
    if (name == "inf") return Json(std::numeric_limits<double>::infinity());
    if (name == "-inf") return Json(-std::numeric_limits<double>::infinity());
    return std::nullopt;
  });
}

// Makes a directory's entries (files created or renamed in it) durable; best effort, like the
// fsync of write_file_atomically.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

[[noreturn]] void fail_rename(const fs::path& from, const fs::path& to, const std::string& reason) {
  throw std::runtime_error(
      fmt::format("save_checkpoint: cannot rename {} to {}: {}", from.string(), to.string(), reason));
}

void rename_or_fail(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) fail_rename(from, to, ec.message());
}

// Moves the complete staging directory to `dir`, replacing the checkpoint there atomically when
// the filesystem can exchange two directories (see the header for the fallback). Once the new
// checkpoint is in place nothing throws: an old copy that cannot be deleted is left behind.
void install(const fs::path& staging, const fs::path& dir) {
  std::error_code ignored;
  fault_point("save_checkpoint: before installing the checkpoint");
  if (!fs::exists(dir)) {
    rename_or_fail(staging, dir);
  } else if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(staging, ignored);  // now the previous checkpoint
  } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
    const fs::path old = sibling(dir, ".old");
    fs::remove_all(old);
    rename_or_fail(dir, old);
    std::error_code ec;
    fs::rename(staging, dir, ec);
    if (ec) {
      fs::rename(old, dir, ignored);  // put the previous checkpoint back
      fail_rename(staging, dir, ec.message());
    }
    fs::remove_all(old, ignored);
  } else {
    fail_rename(staging, dir, std::strerror(errno));
  }
  sync_directory(dir.parent_path());
}

// Runs `f`, prefixing the message of the std::invalid_argument or std::runtime_error it throws
// with "load_checkpoint: <file>: " (keeping the type).
template <class F>
void naming_file(const std::string& file, F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("load_checkpoint: {}: {}", file, e.what()));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(fmt::format("load_checkpoint: {}: {}", file, e.what()));
  }
}

// state.json, parsed and checked against the generators the caller passed.
struct SavedState {
  int64_t step = 0;
  nn::data::DataLoaderState loader;
  Generator::State default_generator{};
  std::map<std::string, Generator::State> generators;
  std::vector<std::string> parts;
  Json extra;
};

SavedState read_state_file(const std::string& file, const NamedGenerators& generators) {
  const auto fail = [&](const std::string& problem) {
    throw std::runtime_error(fmt::format("load_checkpoint: {}: {}", file, problem));
  };
  Json j = parse_json(read_file(file), "load_checkpoint: " + file);  // bounded: no stack overflow
  if (!j.is_object()) fail("the file is not a JSON object");
  for (const char* field : {"format", "version", "step", "loader", "default_generator", "generators", "extra"})
    if (!j.contains(field)) fail(fmt::format("missing field '{}'", field));
  if (j["format"] != kFormat) fail(fmt::format("'format' is {}, expected \"{}\"", j["format"].dump(), kFormat));
  if (j["version"] != kVersion)
    fail(fmt::format("unsupported 'version' {} (this build reads {})", j["version"].dump(), kVersion));
  if (!j["step"].is_number_integer() || j["step"].get<int64_t>() < 0)
    fail(fmt::format("'step' must be a non-negative integer, got {}", j["step"].dump()));
  if (!j["generators"].is_object()) fail(fmt::format("'generators' must be an object, got {}", j["generators"].dump()));

  SavedState saved;
  saved.step = j["step"].get<int64_t>();
  const auto parse = [&](const std::string& field, auto&& read) {
    try {
      read();
    } catch (const std::invalid_argument& e) {
      fail(fmt::format("field '{}': {}", field, e.what()));
    }
  };
  parse("loader", [&] { saved.loader = j["loader"].get<nn::data::DataLoaderState>(); });
  parse("default_generator",
        [&] { saved.default_generator = nn::data::generator_state_from_json(j["default_generator"]); });
  for (const auto& [name, value] : j["generators"].items())
    parse("generators." + name, [&] { saved.generators[name] = nn::data::generator_state_from_json(value); });
  if (j.contains("parts"))
    parse("parts", [&] {
      if (!j["parts"].is_array()) throw std::invalid_argument("must be an array of names");
      for (const Json& name : j["parts"]) {
        if (!name.is_string()) throw std::invalid_argument(fmt::format("{} is not a name", name.dump()));
        saved.parts.push_back(name.get<std::string>());
      }
    });
  saved.extra = decode_nonfinite(j["extra"]);

  std::vector<std::string> not_saved, not_passed;
  std::set<std::string> passed;
  for (const auto& entry : generators) {
    passed.insert(entry.first);
    if (!saved.generators.count(entry.first)) not_saved.push_back(entry.first);
  }
  for (const auto& entry : saved.generators)
    if (!passed.count(entry.first)) not_passed.push_back(entry.first);
  if (!not_saved.empty() || !not_passed.empty())
    throw std::invalid_argument(
        fmt::format("load_checkpoint: {}: the generators passed differ from those saved: not in the checkpoint [{}], "
                    "in the checkpoint but not passed [{}]",
                    file, fmt::join(not_saved, ", "), fmt::join(not_passed, ", ")));
  return saved;
}

}  // namespace

void save_checkpoint(const std::string& dir, const nn::Module& model, const Optimizer& optimizer,
                     const nn::data::DataLoader& loader, const nlohmann::json& extra, const NamedGenerators& generators,
                     const std::vector<CheckpointPart>& parts) {
  check_generators(generators, "save_checkpoint");
  check_parts(parts);
  const fs::path target = directory_path(dir, "save_checkpoint");
  std::error_code ec;
  if (fs::exists(target) && !(fs::is_directory(target) && (fs::is_empty(target) || checkpoint_exists(target.string()))))
    throw std::runtime_error(fmt::format(
        "save_checkpoint: {} exists but is neither an empty directory nor a checkpoint (no {}): refusing to replace it",
        target.string(), kStateFile));

  Json saved_generators = Json::object();
  for (const auto& [name, gen] : generators) saved_generators[name] = nn::data::generator_state_to_json(gen->state());
  Json part_names = Json::array();
  for (const CheckpointPart& part : parts) part_names.push_back(part.name);
  const Json state = {{"format", kFormat},
                      {"version", kVersion},
                      {"step", optimizer.steps_taken()},
                      {"loader", loader.state()},
                      {"default_generator", nn::data::generator_state_to_json(nn::default_generator().state())},
                      {"generators", saved_generators},
                      {"parts", part_names},
                      {"extra", encode_nonfinite(extra)}};

  const fs::path staging = checkpoint_staging_dir(dir);
  fs::remove_all(staging, ec);  // left by an interrupted save
  if (ec)
    throw std::runtime_error(fmt::format("save_checkpoint: cannot remove {}: {}", staging.string(), ec.message()));
  try {
    nn::save_weights(model, (staging / kModelFile).string());
    save_safetensors((staging / kOptimizerFile).string(), optimizer.state_dict(),
                     {{"format", "pathgrad"}, {"optimizer", optimizer.name()}});
    for (const CheckpointPart& part : parts) {
      fs::create_directory(staging / part.name);
      part.save((staging / part.name).string());
      sync_directory(staging / part.name);
    }
    std::string text;
    try {
      text = state.dump(2) + "\n";
    } catch (const Json::exception& e) {
      throw std::invalid_argument(
          fmt::format("save_checkpoint: {}: cannot write the state as JSON (is `extra` valid UTF-8?): {}",
                      (target / kStateFile).string(), e.what()));
    }
    write_file_atomically((staging / kStateFile).string(), text);
    sync_directory(staging);
    install(staging, target);
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
}

std::string checkpoint_staging_dir(const std::string& dir) {
  return sibling(directory_path(dir, "checkpoint_staging_dir"), ".tmp").string();
}

std::string checkpoint_part_dir(const std::string& dir, const std::string& name) {
  return (directory_path(dir, "checkpoint_part_dir") / name).string();
}

bool checkpoint_exists(const std::string& dir) {
  return fs::is_regular_file(directory_path(dir, "checkpoint_exists") / kStateFile);
}

nlohmann::json load_checkpoint(const std::string& dir, nn::Module& model, Optimizer& optimizer,
                               nn::data::DataLoader& loader, const NamedGenerators& generators) {
  check_generators(generators, "load_checkpoint");
  const fs::path path = directory_path(dir, "load_checkpoint");
  const std::string state_file = (path / kStateFile).string();
  const std::string model_file = (path / kModelFile).string();
  const std::string optimizer_file = (path / kOptimizerFile).string();
  if (!fs::is_regular_file(state_file))
    throw std::runtime_error(
        fmt::format("load_checkpoint: {} is not a complete checkpoint: {} is missing", path.string(), state_file));

  // Read and check every file before changing anything.
  const SavedState saved = read_state_file(state_file, generators);
  for (const std::string& part : saved.parts)
    if (!fs::is_directory(path / part))
      throw std::runtime_error(fmt::format("load_checkpoint: {} lists the part '{}' but {} is missing", state_file,
                                           part, (path / part).string()));
  const NamedTensors optimizer_state = load_safetensors(optimizer_file).tensors;
  for (const auto& [name, t] : optimizer_state)
    if (name == "step" && t.dtype() == DType::Int64 && t.numel() == 1 && t.item() != static_cast<double>(saved.step))
      throw std::runtime_error(
          fmt::format("load_checkpoint: {}: the optimizer is at step {} but {} says step {}: the files come from "
                      "different checkpoints",
                      optimizer_file, static_cast<int64_t>(t.item()), state_file, saved.step));

  // Restore part by part; each part checks before it changes, and a rejection puts back the
  // parts already restored.
  NamedTensors model_before = model.state_dict();
  for (auto& entry : model_before) entry.second = entry.second.clone();
  const NamedTensors optimizer_before = optimizer.state_dict();
  nn::load_weights(model, model_file);
  try {
    naming_file(optimizer_file, [&] { optimizer.load_state_dict(optimizer_state); });
    try {
      naming_file(state_file, [&] { loader.set_state(saved.loader); });
    } catch (...) {
      optimizer.load_state_dict(optimizer_before);
      throw;
    }
  } catch (...) {
    model.load_state_dict(model_before);
    throw;
  }
  nn::default_generator().set_state(saved.default_generator);
  for (const auto& [name, gen] : generators) gen->set_state(saved.generators.at(name));
  return saved.extra;
}

}  // namespace pathgrad::optim
