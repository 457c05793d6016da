// The benchmarks' training set-ups (see workloads.hpp).
#include "bench/workloads.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <thread>

#include "examples/cifar2/model.hpp"
#include "examples/grokking/model.hpp"
#include "examples/grokking/probes.hpp"
#include "nn/data/cifar.hpp"
#include "nn/init.hpp"
#include "nn/loss.hpp"
#include "optim/adam.hpp"
#include "optim/schedule.hpp"
#include "optim/sgd.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::bench {

void Workload::step() {
  const nn::data::Batch& batch = loader->next();
  optimizer->zero_grad();
  nn::nll_loss(model->forward(batch.x), batch.y).backward();
  optimizer->step();
}

std::unique_ptr<Workload> grokking_workload(const GrokkingSpec& spec) {
  grokking::Config config;
  config.p = spec.p;
  config.n_train = spec.n_train;
  config.n_val = spec.n_val;
  config.val_probes = spec.val_probes;
  config.sample_probes = spec.sample_probes;
  config.train_probes = 0;
  auto w = std::make_unique<Workload>();
  w->name = "grokking";
  w->description = fmt::format("p = {}, full batch of {}, AdamW", spec.p, spec.n_train);
  const grokking::ModelShape shape = config.model_shape();
  w->make_probe_model = [shape] {
    return std::make_shared<grokking::Transformer>(shape, grokking::Transformer::Queries::Last);
  };
  nn::manual_seed(config.seed);
  w->model = std::make_shared<grokking::Transformer>(shape);
  w->optimizer = std::make_unique<optim::AdamW>(
      w->model->named_parameters(),
      optim::AdamWOptions(spec.lr).betas(config.beta1, config.beta2).eps(config.eps).weight_decay(spec.weight_decay));
  const nn::data::ModularData data = grokking::make_data(config);
  w->train_set = std::make_unique<nn::data::TensorDataset>(data.train.x, data.train.y);
  w->loader = std::make_unique<nn::data::DataLoader>(*w->train_set, nn::data::DataLoaderOptions(data.train.size()));
  w->probes = grokking::make_probe_sets(data, grokking::choose_probes(data, config));
  return w;
}

namespace {
// The first `count` entries of a split as a probe set on the label's log-probability.
explaind::ProbeSet image_probes(const char* name, const nn::data::ImageSet& set, int64_t first, int64_t count,
                                bool sample_level) {
  explaind::ProbeSet p;
  p.name = name;
  p.x = kernel::narrow(set.images, 0, first, count).contiguous();
  p.y = kernel::narrow(set.labels, 0, first, count).contiguous();
  for (int64_t i = 0; i < count; ++i) p.ids.push_back(first + i);
  p.weightings = {explaind::OutputWeighting::label()};
  p.sample_level = sample_level;
  return p;
}
}  // namespace

std::unique_ptr<Workload> cnn_workload(const CnnSpec& spec) {
  const nn::data::ImageSplits cifar =
      nn::data::load_cifar10(spec.data_dir, nn::data::ImageOptions().classes({3, 5}).normalize(true));
  const int64_t n = spec.n_train > 0 ? std::min(spec.n_train, cifar.train.size()) : cifar.train.size();
  auto w = std::make_unique<Workload>();
  w->name = "cnn";
  w->description = fmt::format(
      "the paper's ResNet-9 (no batch norm, no bias), width {}, batch {}, {} training images, SGD + momentum",
      spec.width, spec.batch, n);
  w->make_probe_model = [width = spec.width] { return std::make_shared<cifar2::ResNet9>(width); };
  nn::manual_seed(0);
  w->model = std::make_shared<cifar2::ResNet9>(spec.width);
  w->optimizer = std::make_unique<optim::SGD>(
      w->model->named_parameters(), optim::SGDOptions(spec.lr).momentum(spec.momentum).weight_decay(spec.weight_decay));
  w->train_set = std::make_unique<nn::data::TensorDataset>(kernel::narrow(cifar.train.images, 0, 0, n).contiguous(),
                                                           kernel::narrow(cifar.train.labels, 0, 0, n).contiguous());
  w->loader = std::make_unique<nn::data::DataLoader>(
      *w->train_set, nn::data::DataLoaderOptions(spec.batch).shuffle(spec.shuffle).seed(1));
  if (spec.epochs > 0) w->optimizer->set_schedule(optim::triangle_lr(w->loader->batches_per_epoch(), spec.epochs));
  const int64_t probes = std::min(spec.probes, cifar.test.size());
  const int64_t sample = std::min(spec.sample_probes, probes);
  w->probes.push_back(image_probes("test_sample_level", cifar.test, 0, sample, true));
  if (probes > sample) w->probes.push_back(image_probes("test", cifar.test, sample, probes - sample, false));
  return w;
}

Tensor per_sample_nll(const Tensor& log_probs, const Tensor& target) {
  return nn::nll_loss(log_probs, target, nn::Reduction::None);
}

double best_seconds_per_call(const std::function<void()>& f, int warmup, int calls, int reps) {
  for (int i = 0; i < warmup; ++i) f();
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) f();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s / calls);
  }
  return best;
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  in >> one;
  return one;
}

std::string machine_line() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "?";
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return fmt::format("{} cores, {}, OpenBLAS {} kernels, load {:.2f}", std::thread::hardware_concurrency(), model,
                     openblas_get_corename(), load_average());
}

}  // namespace pathgrad::bench
