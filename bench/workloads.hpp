// The benchmarks' training set-ups: a model, its optimizer, its data and loader, its probes, and
// one plain training step — the grokking transformer (examples/grokking) with AdamW, and the
// CIFAR-2 CNN (examples/cifar2/model.hpp) with SGD + momentum. Shared by every bench_* program so that each
// measures the same thing.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "explaind/probes.hpp"
#include "nn/data/loader.hpp"
#include "nn/module.hpp"
#include "optim/optimizer.hpp"

namespace pathgrad::bench {

struct GrokkingSpec {
  int64_t p = 113;
  int64_t n_train = 4000;  // full batch
  int64_t n_val = 2000;
  int64_t val_probes = 512;              // probes on the label's log-probability ...
  int64_t sample_probes = 32;            // ... of which the first are sample-level
  double lr = 1e-3, weight_decay = 4.0;  // the example's AdamW (betas 0.9, 0.98)
};

struct CnnSpec {
  int64_t width = 16;  // the paper's ResNet-9 at width w (the paper: 64)
  int64_t batch = 128;
  int64_t n_train = 0;         // 0: all 10,000 training images
  int64_t probes = 512;        // test images probed on the label's log-probability ...
  int64_t sample_probes = 32;  // ... of which the first are sample-level
  double lr = 0.01, momentum = 0.9, weight_decay = 5e-4;
  int64_t epochs = 0;  // > 0: the CIFAR triangle lr schedule over that many epochs (peak at 5)
  bool shuffle = true;
  std::string data_dir = "../shared/data/cifar10-catdog-bin";
};

class Workload {
 public:
  virtual ~Workload() = default;
  std::string name;         // "grokking", "cnn"
  std::string description;  // the configuration in a few words
  std::shared_ptr<nn::Module> model;
  std::unique_ptr<optim::Optimizer> optimizer;
  std::unique_ptr<nn::data::Dataset> train_set;
  std::unique_ptr<nn::data::DataLoader> loader;
  std::vector<explaind::ProbeSet> probes;  // sample-level set first
  // The same architecture freshly built as the tracker's probe model (call ->to(Float64)): the
  // same function of the same parameters (the grokking transformer's runs the last query alone).
  std::function<std::shared_ptr<nn::Module>()> make_probe_model;

  // One plain training step on the loader's next batch: zero_grad, NLL loss, backward, step.
  void step();
};

std::unique_ptr<Workload> grokking_workload(const GrokkingSpec& spec);
std::unique_ptr<Workload> cnn_workload(const CnnSpec& spec);

// The per-sample loss the tracker needs for these models: NLL of log-probabilities, unreduced.
Tensor per_sample_nll(const Tensor& log_probs, const Tensor& target);

// Best seconds per call of f over `reps` timed repetitions of `calls` calls, after `warmup` calls.
double best_seconds_per_call(const std::function<void()>& f, int warmup, int calls, int reps);

// "2 cores, AMD EPYC, OpenBLAS Haswell kernels, load 1.23" — what the numbers were measured on
// (OpenBLAS picks its kernel set from the CPU unless OPENBLAS_CORETYPE names one).
std::string machine_line();
double load_average();

}  // namespace pathgrad::bench
