// A checkpoint of a run over several ranks (docs/scaling.md), written once and atomically: rank 0
// writes it with save_checkpoint, and every rank writes its own files of every part (e.g. its
// per-sample buffers: explaind::Tracker::checkpoint_part) into that part's directory in rank 0's
// staging directory, before rank 0 installs it. The run directory must be on a file system every
// rank sees.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "optim/checkpoint.hpp"
#include "optim/communicator.hpp"

namespace pathgrad::optim {

// Collective: every rank calls it at the same point, with parts of the same names in the same
// order (each rank's `save` writes that rank's files; files of different ranks must have
// different names). Rank 0's model, optimizer, loader, extra and generators are saved (the other
// ranks' are not read). With one rank it is save_checkpoint. Throws on every rank when a part's
// `save` failed on any rank (rank 0 then removes the staging directory and leaves `dir` as it
// was: save_checkpoint's guarantee); an error of rank 0 before its parts (an I/O error writing
// the model) leaves the other ranks waiting: end the run with Communicator::abort, as the
// examples do.
void save_checkpoint(const Communicator& comm, const std::string& dir, const nn::Module& model,
                     const Optimizer& optimizer, const nn::data::DataLoader& loader,
                     const nlohmann::json& extra = nullptr, const NamedGenerators& generators = {},
                     const std::vector<CheckpointPart>& parts = {});

}  // namespace pathgrad::optim
