// Training checkpoints: everything a run needs to continue bit for bit — model weights, optimizer
// state, data-loader position, random generators, step count and a user JSON blob — in one
// directory, written atomically and restored all-or-nothing.
//
//   save_checkpoint("run/ckpt", net, opt, loader, {{"best_accuracy", acc}}, {{"dropout", &gen}});
//   ...
//   // in a fresh process, after building net, opt (and its schedule), loader and gen as before:
//   if (optim::checkpoint_exists("run/ckpt"))
//     extra = load_checkpoint("run/ckpt", net, opt, loader, {{"dropout", &gen}});
//
// Layout of <dir>:
//   model.safetensors      nn::save_weights(model): parameters and buffers by dotted name
//   optimizer.safetensors  Optimizer::state_dict(), metadata {"format": "pathgrad", "optimizer": name}
//   state.json             {"format": "pathgrad-checkpoint", "version": 1,
//                           "step": optimizer.steps_taken(),
//                           "loader": DataLoaderState (nn/data/loader.hpp),
//                           "default_generator": nn::default_generator()'s state,
//                           "generators": {"<name>": state, ...}  (the ones passed in),
//                           "parts": ["<name>", ...]  (the CheckpointParts saved),
//                           "extra": the user's JSON}
//   <name>/                each CheckpointPart's own files (e.g. "tracker": the tracker's state)
//   Generator states are {"s": [4 words], "has_spare": bool, "spare": double}
//   (nn/data/generator_json.hpp). Non-finite numbers in `extra` (a NaN loss) are kept as
//   {"pathgrad.float": "nan" | "inf" | "-inf"} and come back as the same doubles.
//
// Completeness. save_checkpoint writes the files (and the parts' directories) into the sibling directory "<dir>.tmp"
// (state.json last, every file flushed to disk), then renames that directory to <dir>; when <dir>
// already holds a checkpoint, the two directories are exchanged in one atomic rename
// (renameat2 RENAME_EXCHANGE) and the old one is deleted. <dir> is therefore always absent, the
// previous complete checkpoint or the new complete one; an interrupted save leaves at most
// "<dir>.tmp" (removed by the next save, never read by load_checkpoint). On a filesystem without
// atomic exchange (e.g. NFS) the old checkpoint is moved to "<dir>.old" first: a crash between
// the two renames then leaves no <dir> — never a partial one. A directory without state.json is
// not a checkpoint. One process at a time may save to a given <dir>.
//
// Not saved: the model's train/eval mode, the optimizer's schedule (a function: set it again
// before resuming; it reads the restored step count) and observers. The model, optimizer, loader
// (same dataset and options) and generators must be constructed as in the saved run.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "nn/data/loader.hpp"
#include "nn/module.hpp"
#include "optim/optimizer.hpp"
#include "tensor/random.hpp"

namespace pathgrad::optim {

// Generators saved and restored besides nn::default_generator(), by name: e.g. a Dropout's or
// an augmentation's own generator. Names are non-empty and unique; pointers are not null.
using NamedGenerators = std::vector<std::pair<std::string, Generator*>>;

// Further training state saved inside the checkpoint, in its own sub-directory <dir>/<name>, so
// that it is installed in the same atomic step as the model and optimizer (the path-kernel
// tracker's state: explaind::Tracker::checkpoint_part()). `save` writes into that directory,
// which exists and is empty when it is called. Names are non-empty, unique, a single path
// component, and none of the checkpoint's own file names. Loading is the part owner's: it reads
// checkpoint_part_dir(dir, name) (load_checkpoint checks that the directory is there).
struct CheckpointPart {
  std::string name;
  std::function<void(const std::string& part_dir)> save;
};

// "<dir>.tmp": where save_checkpoint assembles the checkpoint for `dir` before installing it (each
// part's directory in it exists while the part's `save` runs).
std::string checkpoint_staging_dir(const std::string& dir);

// <dir>/<name>: where the part `name` of the checkpoint in `dir` is kept.
std::string checkpoint_part_dir(const std::string& dir, const std::string& name);

// Writes a complete checkpoint of the training state to `dir` (layout and atomicity above),
// creating missing parent directories and replacing a checkpoint already there. `extra` is any
// JSON the caller wants back from load_checkpoint. Throws std::invalid_argument for a bad
// generator list or an `extra` that JSON cannot encode (a string that is not UTF-8), and
// std::runtime_error naming the path when `dir` exists but is neither empty nor a checkpoint (it
// is not replaced) and on any I/O failure; <dir> is then left as it was, and "<dir>.tmp" removed.
void save_checkpoint(const std::string& dir, const nn::Module& model, const Optimizer& optimizer,
                     const nn::data::DataLoader& loader, const nlohmann::json& extra = nullptr,
                     const NamedGenerators& generators = {}, const std::vector<CheckpointPart>& parts = {});

// True when `dir` holds a complete checkpoint (its state.json exists).
bool checkpoint_exists(const std::string& dir);

// Restores a checkpoint written by save_checkpoint into objects built like the saved ones, and
// returns its `extra`. Afterwards the optimizer's steps_taken(), the loader's next batch and every
// generator's next number are those the saved run had, so training continues bit for bit.
// `generators` must name exactly the generators that were saved. Every part listed in state.json
// must have its directory (the parts themselves are restored by their owners).
// All-or-nothing: every file is read and checked before anything changes (completeness, formats,
// JSON fields, generator names, the step count of state.json against the optimizer file's); the
// model, optimizer and loader then each check their part before changing; if one rejects its
// part, those restored before it are put back, so a load_checkpoint that throws leaves every
// object as it was. Errors name the file at fault: std::runtime_error for a missing, unreadable
// or malformed file, std::invalid_argument for a checkpoint that does not fit the objects (names,
// shapes, dtypes, optimizer kind, loader configuration, generator names).
nlohmann::json load_checkpoint(const std::string& dir, nn::Module& model, Optimizer& optimizer,
                               nn::data::DataLoader& loader, const NamedGenerators& generators = {});

}  // namespace pathgrad::optim
