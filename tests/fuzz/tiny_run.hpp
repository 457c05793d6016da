// A tiny training setup shared by the fuzz targets of resumable state and the corpus generator:
// 11 samples of 3 features, a float64 Linear(3, 3) classifier, AdamW, batches of 4; the tracker
// the tracker_state target resumes; and the checkpoint the checkpoint_state target loads into.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "explaind/tracker.hpp"
#include "nn/data/dataset.hpp"
#include "nn/data/loader.hpp"
#include "nn/init.hpp"
#include "nn/linear.hpp"
#include "nn/loss.hpp"
#include "optim/adam.hpp"
#include "optim/checkpoint.hpp"
#include "tensor/kernels.hpp"
#include "tensor/random.hpp"

namespace pathgrad::fuzz {

struct TinyRun {
  Tensor x, y;
  nn::data::TensorDataset dataset;
  std::unique_ptr<nn::Linear> model;
  std::unique_ptr<optim::AdamW> optimizer;
  nn::data::DataLoader loader;

  TinyRun()
      : x(inputs()),
        y(Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1}, {11})),
        dataset(x, y),
        model(make_model()),
        optimizer(std::make_unique<optim::AdamW>(model->named_parameters(), optim::AdamW::Options(0.05))),
        loader(dataset, nn::data::DataLoaderOptions(4).shuffle(true).seed(3)) {}

  void train(int steps) {
    for (int s = 0; s < steps; ++s) {
      const nn::data::Batch& b = loader.next();
      optimizer->zero_grad();
      nn::nll_loss(model->forward(b.x), b.y).backward();
      optimizer->step();
    }
  }

 private:
  static Tensor inputs() {
    Generator g(123);
    return rand_normal({11, 3}, 0, 1, g, DType::Float64);
  }
  static std::unique_ptr<nn::Linear> make_model() {
    nn::manual_seed(7);
    auto m = std::make_unique<nn::Linear>(3, 3);
    m->to(DType::Float64);
    return m;
  }
};

inline Tensor per_sample_nll(const Tensor& out, const Tensor& y) { return nn::nll_loss(out, y, nn::Reduction::None); }

// A sample-level tracker (4 probes, combinations, windows of 2 steps) streaming into `out`,
// resuming from `resume` unless it is empty.
inline std::unique_ptr<explaind::Tracker> make_tracker(TinyRun& run, const std::string& out,
                                                       const std::string& resume) {
  explaind::ProbeSet probes;
  probes.name = "probes";
  probes.x = kernel::narrow(run.x, 0, 0, 4);
  probes.y = kernel::narrow(run.y, 0, 0, 4);
  probes.sample_level = true;
  explaind::TrackerOptions options =
      explaind::TrackerOptions().output_dir(out).per_sample(true).combinations(true).window(2);
  if (!resume.empty()) options.resume_from(resume);
  return std::make_unique<explaind::Tracker>(*run.model, *run.optimizer, run.loader, per_sample_nll,
                                             std::vector<explaind::ProbeSet>{probes}, options);
}

// The generator a checkpoint of the tiny run saves next to the default one.
inline constexpr const char* kGeneratorName = "augment";

// Trains `run` 3 steps and saves its checkpoint (with `augment`) into `dir`.
inline void save_tiny_checkpoint(TinyRun& run, Generator& augment, const std::string& dir) {
  run.train(3);
  optim::save_checkpoint(dir, *run.model, *run.optimizer, run.loader, {{"note", 1}}, {{kGeneratorName, &augment}});
}

}  // namespace pathgrad::fuzz
