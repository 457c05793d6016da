// The report of a CIFAR-2 run: runs the analyses on the run directory's outputs (replica, layer
// and data influence, pruning), renders every plot and writes report.html and report.md.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "examples/cifar2/config.hpp"
#include "examples/cifar2/importance_chunks.hpp"
#include "examples/cifar2/model.hpp"
#include "examples/cifar2/run_dir.hpp"
#include "examples/cifar2/step_timing.hpp"
#include "examples/cifar2/training.hpp"
#include "explaind/probes.hpp"
#include "explaind/summary.hpp"
#include "nn/data/image_set.hpp"

namespace pathgrad::cifar2 {

struct ReportInputs {
  const Config& config;
  const std::string& command_line;
  const RunDir& dir;
  const explaind::ProbeSet& probes;
  const nn::data::ImageSplits& data;
  const TrainingOutcome& training;
  const std::optional<explaind::Summary>& summary;     // absent with --track off
  const std::optional<explaind::Summary>& importance;  // absent without the pruning experiment; all chunks merged
  const ImportanceChunks& chunks;                      // how the importance images were tracked
  std::string cost_report;                             // the main tracker's cost_report(), empty when untracked
  StepTiming timing;                                   // measured before training
  std::chrono::steady_clock::time_point session_start;
  ResNet9& model;  // trained; the pruning experiment restores its weights
};

// Writes <run>/report.html, report.md, plots/*.png, analyses/*.csv and timings.json.
void write_report(const ReportInputs& in);

// The display name of a parameter tensor's layer: "res1.block2.conv.weight" -> "res1.block2",
// "head.weight" -> "head".
std::string layer_name(const std::string& parameter);

}  // namespace pathgrad::cifar2
