// save_checkpoint over several ranks: rank 0's staging directory, every rank's part files in it.
#include "optim/checkpoint_ranks.hpp"

#include <fmt/format.h>

#include <exception>
#include <stdexcept>

namespace pathgrad::optim {
namespace {

// One rank's share of a part, between two collective calls: the first tells every rank that
// rank 0 has created the part's directory, the second whether every rank wrote its files.
void save_part_on_every_rank(const Communicator& comm, const CheckpointPart& part, const std::string& part_dir) {
  (void)comm.any(false);
  std::exception_ptr failure;
  try {
    part.save(part_dir);
  } catch (...) {
    failure = std::current_exception();
  }
  const bool failed_somewhere = comm.any(failure != nullptr);
  if (failure) std::rethrow_exception(failure);
  if (failed_somewhere)
    throw std::runtime_error(
        fmt::format("save_checkpoint: another rank could not write its files of part '{}' in {}", part.name, part_dir));
}

}  // namespace

void save_checkpoint(const Communicator& comm, const std::string& dir, const nn::Module& model,
                     const Optimizer& optimizer, const nn::data::DataLoader& loader, const nlohmann::json& extra,
                     const NamedGenerators& generators, const std::vector<CheckpointPart>& parts) {
  if (comm.size() == 1) return save_checkpoint(dir, model, optimizer, loader, extra, generators, parts);
  if (!comm.is_root()) {
    const std::string staging = checkpoint_staging_dir(dir);
    for (const CheckpointPart& part : parts)
      save_part_on_every_rank(comm, part, checkpoint_part_dir(staging, part.name));
    return;
  }
  std::vector<CheckpointPart> collective;
  for (const CheckpointPart& part : parts)
    collective.push_back(
        {part.name, [&comm, &part](const std::string& part_dir) { save_part_on_every_rank(comm, part, part_dir); }});
  save_checkpoint(dir, model, optimizer, loader, extra, generators, collective);
}

}  // namespace pathgrad::optim
