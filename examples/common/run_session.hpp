// One session of an example's run in its run directory: checking that the directory fits the
// command (a fresh start or --resume with the same settings), recording the settings and the
// command line, and reading the example's own state back from a resume checkpoint.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "examples/common/run_dir.hpp"
#include "optim/communicator.hpp"
#include "tensor/parallel.hpp"

namespace pathgrad::examples {

// Throws std::invalid_argument "--resume: these settings differ ..." naming (as --flag) every
// setting of `now` (sections of fields: {"model": {"width": 8}, ...}) whose value differs from
// `saved` (the run's config.json at `saved_path`). `ignored` lists what may differ: a whole
// section ("output") or one field ("training.stop_after").
void check_same_settings(const nlohmann::json& now, const nlohmann::json& saved, const std::string& saved_path,
                         const std::vector<std::string>& ignored);

// Checks that the run directory fits the command and says whether there is a checkpoint to
// resume from. A fresh start (resume false) needs a directory without a run. --resume needs
// config.json, which `check_resumable` compares with the settings (it throws when they differ);
// without a checkpoint (a run stopped before its first one) the run starts again from step 0,
// and from the final checkpoint of a finished run the final phase can run again. Throws
// std::invalid_argument saying what to do.
bool prepare_run_dir(const RunDir& dir, bool resume, const std::function<void(const nlohmann::json&)>& check_resumable);

// Starts a session of `config` in `dir`: validates the config (Config::validate, which names the
// flag at fault), sets the number of threads (config.threads) and runs prepare_run_dir with the
// example's check_resumable(config, saved, path). Returns whether to resume from a checkpoint.
// For an example that trains data-parallel over `comm`'s ranks (docs/scaling.md): every rank
// checks the directory, then the ranks check that they agree on the settings (to_json(config))
// and on whether to resume (the run directory must be on a file system every rank sees), so that
// rank 0 writes only once every rank has looked.
template <class Config>
bool open_run_dir(const Config& config, const RunDir& dir, const optim::Communicator& comm) {
  config.validate();
  set_num_threads(config.threads);
  const bool resume = prepare_run_dir(
      dir, config.resume, [&](const nlohmann::json& saved) { check_resumable(config, saved, dir.config()); });
  optim::require_same_on_every_rank(comm, to_json(config).dump(), "their settings (flags)");
  optim::require_same_on_every_rank(comm, resume ? "resume" : "start", "whether --out holds a checkpoint");
  return resume;
}

// Writes config.json, appends `command_line` to command.txt (one line per session) and creates
// weights/.
void record_session(const RunDir& dir, const nlohmann::json& config, const std::string& command_line);

// parse(extra) for the `extra` JSON of the resume checkpoint in directory `checkpoint` (the run's
// dir.checkpoint(), or another pass's), its errors rethrown as std::runtime_error naming the file
// and field.
template <class Parse>
auto parse_checkpoint_extra(const std::string& checkpoint, const nlohmann::json& extra, Parse parse)
    -> decltype(parse(extra)) {
  try {
    return parse(extra);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("--resume: {}/state.json, field 'extra': {}", checkpoint, e.what()));
  }
}

}  // namespace pathgrad::examples
