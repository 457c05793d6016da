// The pruning experiment's importance images, tracked in chunks when they do not fit the memory
// budget together.
//
// The importance tracker keeps PK(x, c, p) for every importance image x, class c and weight p
// over the whole run — about 5 × 2 × images × P float64 numbers with the probes' gradients (1,500
// images of the paper's network: ~270 GB) — and the EPK score Σ_x Σ_c |PK(x, c, p)| takes the absolute value
// after the sum over steps, so no smaller running sum serves. When all images do not fit
// --memory-budget, chunk 0 (the first images) is tracked in the run's training pass and every
// further chunk in a rerun of the same training: same seeds, batches, flips and threads, hence
// bit for bit the same trajectory — checked against weights/final.safetensors at the end of every
// rerun. The score adds the chunks' rows; nothing else about the run changes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "examples/cifar2/config.hpp"
#include "examples/cifar2/data.hpp"
#include "examples/cifar2/run_dir.hpp"
#include "examples/cifar2/training_setup.hpp"
#include "explaind/summary.hpp"
#include "explaind/tracker.hpp"

namespace pathgrad::cifar2 {

struct ImportanceChunks {
  int64_t images = 0;  // all importance images (the first test images)
  int64_t size = 0;    // images per chunk; the last may hold fewer
  int64_t count() const { return size > 0 ? (images + size - 1) / size : 0; }
  int64_t first(int64_t k) const { return k * size; }
  int64_t length(int64_t k) const { return std::min(size, images - first(k)); }
};

// --importance-chunk images per chunk, or (0) the most whose importance tracker fits
// --memory-budget (Tracker::estimate). Throws std::invalid_argument naming --memory-budget when
// not even one image fits.
ImportanceChunks plan_importance_chunks(const Config& config, TrainingSetup& setup, const nn::data::ImageSet& test);

// The importance tracker of chunk k on `setup`, writing into dir.importance(k); resumed from the
// checkpoint part `resume_dir` unless empty.
std::unique_ptr<explaind::Tracker> make_importance_tracker(const Config& config, TrainingSetup& setup,
                                                           const nn::data::ImageSet& test,
                                                           const ImportanceChunks& chunks, int64_t k,
                                                           const std::string& out, const std::string& resume_dir);

// Tracks chunks 1 … count − 1 (chunk 0 is the training pass's), each in a rerun of the training
// (progress lines as in training; a Ctrl-C or --stop-after pauses the rerun at a checkpoint in
// dir.importance_checkpoint(k), --resume continues it). Chunks whose exports are complete are
// skipped. Returns their summaries in order, or nullopt when paused. Under mpirun every rank
// retraces the training (its shards); rank 0 alone tracks, writes and returns the summaries (the
// others an empty list). Throws std::runtime_error
// when a rerun's trained weights differ from weights/final.safetensors (the training was not
// reproduced bit for bit: e.g. --threads changed between sessions).
std::optional<std::vector<explaind::Summary>> track_remaining_chunks(const Config& config, const RunDir& dir,
                                                                     const nn::data::ImageSplits& data,
                                                                     const ImportanceChunks& chunks);

// One summary for all chunks: the worst replica error and residuals, the change and output scales
// averaged over probe scalars, evaluations and seconds added.
explaind::Summary merge_summaries(const std::vector<explaind::Summary>& chunks, const ImportanceChunks& sizes);

// The EPK score Imp(p) = Σ_x Σ_c |PK(x, c, p)| over every chunk's parameter_data, float64 [P];
// the chunks' parameter axis must be `parameter_names` (std::invalid_argument otherwise).
Tensor epk_score(const RunDir& dir, const ImportanceChunks& chunks, const std::vector<std::string>& parameter_names);

}  // namespace pathgrad::cifar2
