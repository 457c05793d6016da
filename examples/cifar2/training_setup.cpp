// The CIFAR-2 run's training setup, in the order that makes its random streams reproducible.
#include "examples/cifar2/training_setup.hpp"

#include "nn/init.hpp"
#include "optim/schedule.hpp"

namespace pathgrad::cifar2 {

namespace {
// Everything that draws from the default generator is built first, from the seed, before a
// checkpoint may restore it, so that a resumed run continues the same random stream.
std::unique_ptr<ResNet9> seeded_model(const Config& config) {
  nn::manual_seed(config.seed);
  return std::make_unique<ResNet9>(config.width);
}
std::unique_ptr<ResNet9> probe_model_for(const Config& config) {
  if (!config.tracking() && !config.pruning()) return nullptr;
  auto m = std::make_unique<ResNet9>(config.width);  // its weights are the trackers' to set
  m->to(DType::Float64);
  return m;
}
}  // namespace

TrainingSetup::TrainingSetup(const Config& config, const nn::data::ImageSplits& data)
    : model(seeded_model(config)),
      probe_model(probe_model_for(config)),
      optimizer(model->named_parameters(),
                optim::SGDOptions(config.lr).momentum(config.momentum).weight_decay(config.weight_decay)),
      train_set(data.train.dataset()),
      flipped(train_set, config.seed + 1),
      loader(flipped, nn::data::DataLoaderOptions(config.batch_size).shuffle(true).seed(config.seed).drop_last(true)),
      trainee{*model,
              optimizer,
              loader,
              data.test,
              optim::Communicator::world(),
              config.shards_for(optim::Communicator::world().size())} {
  optimizer.set_schedule(optim::triangle_lr(loader.batches_per_epoch(), config.epochs, config.peak_epoch));
}

explaind::TrackerOptions TrainingSetup::tracker_options(explaind::TrackerOptions base, const std::string& out,
                                                        const std::string& resume_dir) const {
  return base.window(loader.batches_per_epoch())
      .probe_model(probe_model.get())
      .communicator(&trainee.comm)  // the sample level over the ranks, in the training's shards
      .sample_shards(trainee.shards)
      .resume_from(resume_dir)
      .output_dir(out);
}

}  // namespace pathgrad::cifar2
