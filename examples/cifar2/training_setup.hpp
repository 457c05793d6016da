// What one training pass of a CIFAR-2 run trains with, built from the config alone: the model
// (and its float64 twin for the trackers), SGD with the triangle schedule and the loader of
// flipped training batches. Every build — the run's pass, a resumed session, an importance-chunk
// rerun — draws the same random numbers in the same order, so that two builds trained with the
// same --threads follow the same trajectory bit for bit.
#pragma once

#include <memory>
#include <string>

#include "examples/cifar2/config.hpp"
#include "examples/cifar2/data.hpp"
#include "examples/cifar2/model.hpp"
#include "examples/cifar2/training.hpp"
#include "explaind/tracker.hpp"
#include "nn/data/random_flip.hpp"

namespace pathgrad::cifar2 {

class TrainingSetup {
 public:
  // `data` must outlive the setup (the loader and the trainee keep references into it).
  TrainingSetup(const Config& config, const nn::data::ImageSplits& data);
  TrainingSetup(const TrainingSetup&) = delete;
  TrainingSetup& operator=(const TrainingSetup&) = delete;

  // `base` attached to this setup: one window per epoch, the probe model, exports into `out`,
  // resumed from the checkpoint part `resume_dir` unless empty.
  explaind::TrackerOptions tracker_options(explaind::TrackerOptions base, const std::string& out,
                                           const std::string& resume_dir) const;

  std::unique_ptr<ResNet9> model;
  std::unique_ptr<ResNet9> probe_model;  // float64, for the trackers; null when nothing is tracked
  optim::SGD optimizer;
  nn::data::TensorDataset train_set;
  nn::data::RandomHorizontalFlip flipped;
  nn::data::DataLoader loader;
  Trainee trainee;
};

}  // namespace pathgrad::cifar2
