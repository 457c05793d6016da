// Importance images in chunks: sizing, the reruns that track chunks 1…, and the score over all.
#include "examples/cifar2/importance_chunks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "examples/cifar2/probes.hpp"
#include "examples/common/nll_objective.hpp"
#include "examples/common/run_session.hpp"
#include "examples/common/tracker_exports.hpp"
#include "explaind/exports.hpp"
#include "nn/serialize.hpp"
#include "optim/checkpoint.hpp"
#include "tensor/kernels.hpp"
#include "tensor/safetensors.hpp"

namespace pathgrad::cifar2 {

namespace fs = std::filesystem;
namespace K = kernel;

namespace {

constexpr const char* kPart = "importance";  // the tracker's part in every checkpoint

explaind::ProbeSet chunk_probes(const nn::data::ImageSet& test, const ImportanceChunks& chunks, int64_t k) {
  return importance_probe_set(test, chunks.first(k), chunks.length(k));
}

// Throws unless `model` holds exactly the weights saved in `path`.
void check_same_trajectory(ResNet9& model, const std::string& path, int64_t chunk) {
  std::map<std::string, Tensor> saved;
  for (auto& [name, value] : load_safetensors(path).tensors) saved.emplace(name, value);
  for (const auto& [name, value] : model.named_parameters()) {
    const auto it = saved.find(name);
    if (it == saved.end() || it->second.shape() != value.shape() ||
        K::amax(K::abs(K::sub(value, it->second))).item() != 0.0)
      throw std::runtime_error(fmt::format(
          "importance chunk {}: the rerun of the training ended at other weights than the run ({}, tensor '{}'): "
          "the training was not reproduced bit for bit — keep --threads the same in every session of a run",
          chunk, path, name));
  }
}

// Tracks chunk k in a rerun of the training (resumed from its checkpoint when there is one).
std::optional<explaind::Summary> rerun_chunk(const Config& config, const RunDir& dir, const nn::data::ImageSplits& data,
                                             const ImportanceChunks& chunks, int64_t k) {
  const std::string checkpoint = dir.importance_checkpoint(k);
  TrainingSetup setup(config, data);
  TrainingOutcome resumed;
  if (optim::checkpoint_exists(checkpoint))
    resumed = examples::parse_checkpoint_extra(
        checkpoint, optim::load_checkpoint(checkpoint, *setup.model, setup.optimizer, setup.loader), outcome_from_json);
  const int64_t done = setup.optimizer.steps_taken();
  const bool root = setup.trainee.comm.is_root();  // rank 0 alone tracks (no sample level here) and writes
  // On every rank, so that every rank's checkpoints name the same parts (optim/checkpoint_ranks.hpp).
  const std::unique_ptr<explaind::Tracker> tracker =
      make_importance_tracker(config, setup, data.test, chunks, k, dir.importance(k),
                              done > 0 ? optim::checkpoint_part_dir(checkpoint, kPart) : std::string());
  const std::vector<optim::CheckpointPart> parts = {tracker->checkpoint_part(kPart)};
  fmt::print("importance chunk {} of {} (test images {} to {}): retracing the training{}\n", k + 1, chunks.count(),
             chunks.first(k), chunks.first(k) + chunks.length(k) - 1,
             done > 0 ? fmt::format(" from step {}", done) : std::string());
  const TrainingOutcome t =
      train(setup.trainee, config, dir, TrainingFiles{checkpoint, false}, std::move(resumed), parts);
  if (t.interrupted) return std::nullopt;
  check_same_trajectory(*setup.model, dir.final_weights(), k);
  if (!root) return explaind::Summary{};
  explaind::Summary s = tracker->finish();
  fs::remove_all(checkpoint);
  return s;
}

}  // namespace

ImportanceChunks plan_importance_chunks(const Config& config, TrainingSetup& setup, const nn::data::ImageSet& test) {
  ImportanceChunks chunks{config.importance_images, config.importance_images};
  if (config.importance_chunk > 0) {
    chunks.size = std::min(config.importance_chunk, chunks.images);
    return chunks;
  }
  auto bytes = [&](int64_t images) {
    return explaind::Tracker::estimate(*setup.model, setup.optimizer, setup.loader,
                                       {importance_probe_set(test, 0, images)},
                                       setup.tracker_options(importance_options(config), "", ""))
        .memory_bytes;
  };
  const double budget = config.memory_budget_gb * 1e9;
  if (bytes(1) > budget)
    throw std::invalid_argument(
        fmt::format("--memory-budget: {} GB does not hold the importance tracker of one image ({:.2f} GB)",
                    config.memory_budget_gb, bytes(1) / 1e9));
  int64_t lo = 1, hi = chunks.images;  // bytes(lo) fits; the largest that fits is in [lo, hi]
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (bytes(mid) <= budget)
      lo = mid;
    else
      hi = mid - 1;
  }
  chunks.size = lo;
  return chunks;
}

std::unique_ptr<explaind::Tracker> make_importance_tracker(const Config& config, TrainingSetup& setup,
                                                           const nn::data::ImageSet& test,
                                                           const ImportanceChunks& chunks, int64_t k,
                                                           const std::string& out, const std::string& resume_dir) {
  return std::make_unique<explaind::Tracker>(*setup.model, setup.optimizer, setup.loader, examples::per_sample_nll(),
                                             std::vector<explaind::ProbeSet>{chunk_probes(test, chunks, k)},
                                             setup.tracker_options(importance_options(config), out, resume_dir));
}

std::optional<std::vector<explaind::Summary>> track_remaining_chunks(const Config& config, const RunDir& dir,
                                                                     const nn::data::ImageSplits& data,
                                                                     const ImportanceChunks& chunks) {
  const bool root = optim::Communicator::world().is_root();  // rank 0 reads, removes and returns
  std::vector<explaind::Summary> summaries;
  for (int64_t k = 1; k < chunks.count(); ++k) {
    if (fs::exists(dir.importance(k) + "/summary.json")) {  // written last: the chunk is complete
      if (!root) continue;
      fs::remove_all(dir.importance_checkpoint(k));
      summaries.push_back(explaind::read_summary(dir.importance(k)));
      continue;
    }
    std::optional<explaind::Summary> s = rerun_chunk(config, dir, data, chunks, k);
    if (!s) return std::nullopt;
    if (root) summaries.push_back(*s);
  }
  return summaries;
}

explaind::Summary merge_summaries(const std::vector<explaind::Summary>& chunks, const ImportanceChunks& sizes) {
  explaind::Summary all = chunks.at(0);
  all.replica_mean_abs_error = all.change_scale = all.output_scale = 0;
  all.gradient_evaluations = 0;
  all.tracking_seconds = 0;
  for (size_t k = 0; k < chunks.size(); ++k) {
    const explaind::Summary& s = chunks[k];
    // Means over probe scalars: weighted by the chunk's share of the images.
    const double share = static_cast<double>(sizes.length(static_cast<int64_t>(k))) / static_cast<double>(sizes.images);
    all.replica_mean_abs_error += share * s.replica_mean_abs_error;
    all.change_scale += share * s.change_scale;
    all.output_scale += share * s.output_scale;
    all.replica_max_abs_error = std::max(all.replica_max_abs_error, s.replica_max_abs_error);
    all.residual_max = std::max(all.residual_max, s.residual_max);
    all.residual_abs_sum_max = std::max(all.residual_abs_sum_max, s.residual_abs_sum_max);
    all.marginal_mismatch = std::max(all.marginal_mismatch, s.marginal_mismatch);
    all.deepest_refinement = std::max(all.deepest_refinement, s.deepest_refinement);
    all.gradient_evaluations += s.gradient_evaluations;
    all.tracking_seconds += s.tracking_seconds;
  }
  return all;
}

Tensor epk_score(const RunDir& dir, const ImportanceChunks& chunks, const std::vector<std::string>& parameter_names) {
  Tensor score;
  for (int64_t k = 0; k < chunks.count(); ++k) {
    const examples::TrackerExports exports(dir.importance(k));
    const Tensor pk = exports.load("parameter_data");  // [2 · images of chunk k, P]
    if (exports.parameter_names() != parameter_names || pk.dim() != 2 || pk.size(0) != 2 * chunks.length(k))
      throw std::invalid_argument(fmt::format(
          "pruning: {}/parameter_data.npy (shape {}, {} parameter tensors) is not the importance tracker's of {} "
          "images over the model's {} parameter tensors",
          dir.importance(k), shape_str(pk.shape()), exports.parameter_names().size(), chunks.length(k),
          parameter_names.size()));
    const Tensor part = K::sum(K::abs(pk), {0});  // Σ over the chunk's images and classes of |PK|
    score = score.defined() ? K::add(score, part) : part;
  }
  return score;
}

}  // namespace pathgrad::cifar2
