// Tests for optim/checkpoint.hpp: a run stopped and resumed from its checkpoint continues bit for
// bit (MLP with Dropout, shuffled loader, SGD with momentum and AdamW, both with a schedule); the
// directory layout; half-written checkpoints are never taken for complete ones; and a load that
// fails names the file and changes nothing.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <set>

#include "nn/data/generator_json.hpp"
#include "nn/data/loader.hpp"
#include "nn/nn.hpp"
#include "optim/adam.hpp"
#include "optim/checkpoint.hpp"
#include "optim/schedule.hpp"
#include "optim/sgd.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/safetensors.hpp"
#include "tests/checkpoint_helpers.hpp"
#include "tests/nn_helpers.hpp"

using namespace pathgrad;
using namespace checkpoint_test;
using nn_test::check_throws_with;
using Json = nlohmann::json;

namespace {

// 100 examples, 8 features, 3 classes given by a random linear teacher.
nn::data::TensorDataset synthetic_dataset() {
  Generator gen(5);
  const Tensor x = rand_normal({100, 8}, 0, 1, gen);
  const Tensor teacher = rand_normal({8, 3}, 0, 1, gen);
  return nn::data::TensorDataset(x, kernel::argmax(kernel::matmul(x, teacher), 1));
}

// Two Dropouts: one drawing from nn::default_generator(), one from its own generator.
struct Mlp : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2, fc3;
  std::shared_ptr<nn::Dropout> drop1, drop2;
  Mlp(Generator* dropout_generator, int64_t hidden) {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(8, hidden));
    drop1 = register_module("drop1", std::make_shared<nn::Dropout>(0.2));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, hidden));
    drop2 =
        register_module("drop2", std::make_shared<nn::Dropout>(nn::DropoutOptions(0.3).generator(dropout_generator)));
    fc3 = register_module("fc3", std::make_shared<nn::Linear>(hidden, 3));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = drop1->forward(relu(fc1->forward(x)));
    return fc3->forward(drop2->forward(relu(fc2->forward(h))));
  }
};

enum class Kind { SGD, AdamW };

// One training process, built the way a script builds it: `seed` seeds the default generator
// (hence the initial weights) and the Dropout's own generator. Runs that resume are built with
// another seed, so that only the checkpoint can make them agree with the reference.
struct Run {
  Generator dropout_generator;
  Mlp model;
  nn::data::DataLoader loader;
  std::unique_ptr<optim::Optimizer> optimizer;

  Run(const nn::data::Dataset& dataset, Kind kind, uint64_t seed, int64_t batch_size = 16, int64_t hidden = 16)
      : dropout_generator(seed + 100),
        model((nn::manual_seed(seed), &dropout_generator), hidden),  // seeded before the weights are drawn
        loader(dataset, nn::data::DataLoaderOptions(batch_size).shuffle(true).seed(3)) {
    if (kind == Kind::SGD) {
      optimizer = std::make_unique<optim::SGD>(model.named_parameters(),
                                               optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-3));
      optimizer->set_schedule(optim::step_decay_lr(6, 0.5));
    } else {
      optimizer =
          std::make_unique<optim::AdamW>(model.named_parameters(), optim::AdamWOptions(1e-2).weight_decay(0.05));
      optimizer->set_schedule(optim::warmup_cosine_decay_lr(4, 30, 0.1));
    }
  }
  optim::NamedGenerators generators() { return {{"dropout", &dropout_generator}}; }
  void train(int64_t steps) {
    for (int64_t i = 0; i < steps; ++i) {
      const nn::data::Batch& batch = loader.next();
      optimizer->zero_grad();
      nn::cross_entropy(model.forward(batch.x), batch.y).backward();
      optimizer->step();
    }
  }
  void save(const std::string& dir, const Json& extra = nullptr) {
    optim::save_checkpoint(dir, model, *optimizer, loader, extra, generators());
  }
  Json load(const std::string& dir) { return optim::load_checkpoint(dir, model, *optimizer, loader, generators()); }
};

// Everything load_checkpoint may change.
struct Everything {
  NamedTensors model, optimizer;
  Json loader, default_generator, dropout_generator;
};
Everything capture(const Run& run) {
  return {snapshot(run.model.state_dict()), run.optimizer->state_dict(), run.loader.state(),
          nn::data::generator_state_to_json(nn::default_generator().state()),
          nn::data::generator_state_to_json(run.dropout_generator.state())};
}
void check_unchanged(const Run& run, const Everything& before) {
  const Everything now = capture(run);
  check_same_state(now.model, before.model);
  check_same_state(now.optimizer, before.optimizer);
  CHECK(now.loader == before.loader);
  CHECK(now.default_generator == before.default_generator);
  CHECK(now.dropout_generator == before.dropout_generator);
}

bool same_weights(const nn::Module& a, const nn::Module& b) {
  const NamedTensors x = a.state_dict(), y = b.state_dict();
  for (size_t i = 0; i < x.size(); ++i)
    if (!bitwise_equal(x[i].second, y[i].second)) return false;
  return true;
}

std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

}  // namespace

TEST_CASE("a run stopped after k steps and resumed from its checkpoint continues bit for bit") {
  const nn::data::TensorDataset dataset = synthetic_dataset();
  // 7 batches per epoch: the checkpoint falls inside epoch 1, the resumed part crosses into epoch 3.
  constexpr int64_t k = 10, m = 12;
  for (Kind kind : {Kind::SGD, Kind::AdamW}) {
    INFO((kind == Kind::SGD ? "SGD with momentum" : "AdamW"));
    Run reference(dataset, kind, 1);
    reference.train(k + m);
    const Json reference_generator = nn::data::generator_state_to_json(nn::default_generator().state());
    CHECK(reference.loader.epoch() == 3);

    TempDir dir;
    const std::string ckpt = dir.file("ckpt");
    {
      Run first(dataset, kind, 1);
      first.train(k);
      first.save(ckpt, {{"note", "stopped"}, {"k", k}});
    }

    Run resumed(dataset, kind, 2);
    REQUIRE_FALSE(same_weights(resumed.model, reference.model));
    CHECK(resumed.load(ckpt) == Json{{"note", "stopped"}, {"k", k}});
    CHECK(resumed.optimizer->steps_taken() == k);
    resumed.train(m);
    check_same_state(resumed.model.state_dict(), reference.model.state_dict());
    check_same_state(resumed.optimizer->state_dict(), reference.optimizer->state_dict());
    CHECK(Json(resumed.loader.state()) == Json(reference.loader.state()));
    CHECK(nn::data::generator_state_to_json(nn::default_generator().state()) == reference_generator);
    CHECK(resumed.dropout_generator.state().s == reference.dropout_generator.state().s);

    // Each restored part matters: leaving any one of them out changes the final weights.
    for (const char* part : {"default generator", "dropout generator", "loader"}) {
      INFO("not restored: " << part);
      Run partial(dataset, kind, 2);
      const nn::data::DataLoaderState fresh_loader = partial.loader.state();
      partial.load(ckpt);
      if (std::string(part) == "default generator") nn::default_generator().reseed(7);
      if (std::string(part) == "dropout generator") partial.dropout_generator.reseed(7);
      if (std::string(part) == "loader") partial.loader.set_state(fresh_loader);
      partial.train(m);
      CHECK_FALSE(same_weights(partial.model, reference.model));
    }
  }
}

TEST_CASE("checkpoint layout: three files and state.json's fields; saving again replaces it atomically") {
  const nn::data::TensorDataset dataset = synthetic_dataset();
  TempDir dir;
  const std::string ckpt = dir.file("runs/ckpt");  // missing parents are created
  Run run(dataset, Kind::SGD, 1);
  run.train(3);
  CHECK_FALSE(optim::checkpoint_exists(ckpt));
  run.save(ckpt, {{"epoch", 0}});
  CHECK(optim::checkpoint_exists(ckpt));
  CHECK(entries(dir.path / "runs") == std::set<std::string>{"ckpt"});
  CHECK(entries(ckpt) == std::set<std::string>{"model.safetensors", "optimizer.safetensors", "state.json"});

  const Json state = Json::parse(read_file(ckpt + "/state.json"));
  CHECK(state["format"] == "pathgrad-checkpoint");
  CHECK(state["version"] == 1);
  CHECK(state["step"] == 3);
  CHECK(state["loader"] == Json(run.loader.state()));
  CHECK(state["default_generator"] == nn::data::generator_state_to_json(nn::default_generator().state()));
  CHECK(state["generators"] == Json{{"dropout", nn::data::generator_state_to_json(run.dropout_generator.state())}});
  CHECK(state["extra"] == Json{{"epoch", 0}});
  const SafetensorsContents model = load_safetensors(ckpt + "/model.safetensors");
  CHECK(model.metadata.at("module") == "Mlp");
  check_same_state(model.tensors, run.model.state_dict());
  const SafetensorsContents optimizer = load_safetensors(ckpt + "/optimizer.safetensors");
  CHECK(optimizer.metadata.at("optimizer") == "SGD");
  check_same_state(optimizer.tensors, run.optimizer->state_dict());

  run.train(2);
  run.save(ckpt + "/", {{"epoch", 1}});  // a trailing separator names the same directory
  CHECK(entries(dir.path / "runs") == std::set<std::string>{"ckpt"});
  CHECK(Json::parse(read_file(ckpt + "/state.json"))["step"] == 5);
  check_same_state(load_safetensors(ckpt + "/model.safetensors").tensors, run.model.state_dict());
}

TEST_CASE("a half-written checkpoint is never taken for a complete one") {
  const nn::data::TensorDataset dataset = synthetic_dataset();
  TempDir dir;
  const std::string ckpt = dir.file("ckpt"), staging = dir.file("ckpt.tmp");
  Run run(dataset, Kind::AdamW, 1);
  run.train(4);
  run.save(ckpt, {{"version", "good"}});
  const Everything good = capture(run);

  // A save killed before its last file: the staging directory lacks state.json.
  fs::create_directories(staging);
  fs::copy_file(ckpt + "/model.safetensors", staging + "/model.safetensors");
  fs::copy_file(ckpt + "/optimizer.safetensors", staging + "/optimizer.safetensors");
  CHECK_FALSE(optim::checkpoint_exists(staging));
  Run other(dataset, Kind::AdamW, 2);
  const Everything other_before = capture(other);
  check_throws_with<std::runtime_error>([&] { other.load(staging); },
                                        {"not a complete checkpoint", staging + "/state.json"});
  check_unchanged(other, other_before);

  // A save that fails after writing both safetensors files (state.json cannot hold invalid
  // UTF-8) leaves the previous checkpoint as it was, and no staging directory.
  run.train(1);
  CHECK_THROWS_AS(run.save(ckpt, std::string("\xff")), std::invalid_argument);
  CHECK(entries(dir.path) == std::set<std::string>{"ckpt"});
  CHECK(other.load(ckpt) == Json{{"version", "good"}});
  check_same_state(other.model.state_dict(), good.model);
  check_same_state(other.optimizer->state_dict(), good.optimizer);

  // The next save removes a stale staging directory.
  fs::create_directories(staging);
  run.save(ckpt);
  CHECK(entries(dir.path) == std::set<std::string>{"ckpt"});

  // A directory that is not a checkpoint is never replaced.
  const std::string notes = dir.file("notes");
  write_file_atomically(notes + "/todo.txt", "keep me");
  check_throws_with<std::runtime_error>([&] { run.save(notes); }, {notes, "refusing to replace it"});
  CHECK(read_file(notes + "/todo.txt") == "keep me");
}

TEST_CASE("load_checkpoint: errors name the file at fault, and a failed load changes nothing") {
  const nn::data::TensorDataset dataset = synthetic_dataset();
  TempDir dir;
  const std::string ckpt = dir.file("ckpt"), later = dir.file("later");
  Run source(dataset, Kind::SGD, 1);
  source.train(4);
  source.save(ckpt);
  source.train(1);
  source.save(later);

  // A copy of the checkpoint with one file changed.
  const auto variant = [&](const std::string& name, const std::string& file, const std::string& contents) {
    const std::string path = dir.file(name);
    fs::copy(ckpt, path, fs::copy_options::recursive);
    write_file_atomically(path + "/" + file, contents);
    return path;
  };
  Json state = Json::parse(read_file(ckpt + "/state.json"));
  state.erase("loader");
  const std::string no_loader = variant("no_loader", "state.json", state.dump());
  const std::string bad_json = variant("bad_json", "state.json", "{\"format\": ");
  const std::string mixed = variant("mixed", "optimizer.safetensors", read_file(later + "/optimizer.safetensors"));
  const std::string truncated = variant("truncated", "model.safetensors", "\x10\0\0");

  Run target(dataset, Kind::SGD, 2);  // a mid-training state that must survive every failed load
  target.train(1);
  const Everything before = capture(target);

  SUBCASE("files") {
    check_throws_with<std::runtime_error>([&] { target.load(no_loader); },
                                          {no_loader + "/state.json", "missing field 'loader'"});
    check_throws_with<std::runtime_error>([&] { target.load(bad_json); }, {bad_json + "/state.json", "invalid JSON"});
    check_throws_with<std::runtime_error>(
        [&] { target.load(mixed); }, {mixed + "/optimizer.safetensors", "step 5", "step 4", "different checkpoints"});
    check_throws_with<std::runtime_error>([&] { target.load(truncated); }, {truncated + "/model.safetensors"});
    check_unchanged(target, before);
  }
  SUBCASE("generator names") {
    Generator g;
    check_throws_with<std::invalid_argument>(
        [&] {
          optim::load_checkpoint(ckpt, target.model, *target.optimizer, target.loader, {{"augment", &g}});
        },
        {ckpt + "/state.json", "not in the checkpoint [augment]", "not passed [dropout]"});
    check_unchanged(target, before);
  }
  SUBCASE("a model of another shape") {
    Run wide(dataset, Kind::SGD, 2, 16, /*hidden=*/17);
    const Everything wide_before = capture(wide);
    check_throws_with<std::invalid_argument>([&] { wide.load(ckpt); },
                                             {ckpt + "/model.safetensors", "'fc1.weight' is float32 [16, 8]"});
    check_unchanged(wide, wide_before);
  }
  SUBCASE("another optimizer: the model is put back") {
    Run adam(dataset, Kind::AdamW, 2);
    adam.train(1);
    const Everything adam_before = capture(adam);
    check_throws_with<std::invalid_argument>([&] { adam.load(ckpt); }, {ckpt + "/optimizer.safetensors", "SGD"});
    check_unchanged(adam, adam_before);
  }
  SUBCASE("another loader configuration: the model and the optimizer are put back") {
    Run batch20(dataset, Kind::SGD, 2, /*batch_size=*/20);
    batch20.train(1);
    const Everything batch20_before = capture(batch20);
    check_throws_with<std::invalid_argument>([&] { batch20.load(ckpt); }, {ckpt + "/state.json", "batch_size"});
    check_unchanged(batch20, batch20_before);
  }
}

TEST_CASE("checkpoint parts are saved inside the checkpoint, listed in state.json and checked on load") {
  const nn::data::TensorDataset dataset = synthetic_dataset();
  TempDir dir;
  const std::string ckpt = dir.file("ckpt");
  Run run(dataset, Kind::AdamW, 2);
  run.train(2);
  int saves = 0;
  const optim::CheckpointPart part{"tracker", [&](const std::string& part_dir) {
                                     CHECK(fs::is_directory(part_dir));
                                     CHECK(fs::is_empty(part_dir));
                                     write_file_atomically(part_dir + "/state.bin", "step " + std::to_string(++saves));
                                   }};
  optim::save_checkpoint(ckpt, run.model, *run.optimizer, run.loader, nullptr, run.generators(), {part});
  CHECK(optim::checkpoint_part_dir(ckpt, "tracker") == (fs::absolute(ckpt) / "tracker").string());
  CHECK(read_file(optim::checkpoint_part_dir(ckpt, "tracker") + "/state.bin") == "step 1");
  CHECK(Json::parse(read_file(ckpt + "/state.json"))["parts"] == Json::array({"tracker"}));
  // Saved again: the part is replaced with the rest, in the same atomic step.
  run.train(1);
  optim::save_checkpoint(ckpt, run.model, *run.optimizer, run.loader, nullptr, run.generators(), {part});
  CHECK(read_file(ckpt + "/tracker/state.bin") == "step 2");
  CHECK(entries(ckpt) == std::set<std::string>{"model.safetensors", "optimizer.safetensors", "state.json", "tracker"});
  run.load(ckpt);

  // A part that fails to save leaves the previous checkpoint as it was.
  const optim::CheckpointPart failing{"tracker", [](const std::string&) { throw std::runtime_error("disk full"); }};
  CHECK_THROWS_WITH(
      optim::save_checkpoint(ckpt, run.model, *run.optimizer, run.loader, nullptr, run.generators(), {failing}),
      "disk full");
  CHECK(read_file(ckpt + "/tracker/state.bin") == "step 2");
  CHECK_FALSE(fs::exists(ckpt + ".tmp"));

  // A listed part whose directory is missing is an incomplete checkpoint: the error names it.
  fs::remove_all(ckpt + "/tracker");
  const Everything before = capture(run);
  CHECK_THROWS_WITH_AS(run.load(ckpt), doctest::Contains("lists the part 'tracker'"), std::runtime_error);
  check_unchanged(run, before);

  // Bad part names are rejected before anything is written.
  for (const std::string bad : {"", "a/b", "..", "state.json", "model.safetensors"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(
        optim::save_checkpoint(dir.file("bad"), run.model, *run.optimizer, run.loader, nullptr, {}, {{bad, part.save}}),
        std::invalid_argument);
  }
  CHECK_THROWS_AS(
      optim::save_checkpoint(dir.file("bad"), run.model, *run.optimizer, run.loader, nullptr, {}, {part, part}),
      std::invalid_argument);
  CHECK_FALSE(fs::exists(dir.file("bad")));
}

TEST_CASE("non-finite numbers in a checkpoint's extra come back as they were") {
  const nn::data::TensorDataset dataset = synthetic_dataset();
  TempDir dir;
  Run run(dataset, Kind::SGD, 3);
  const double inf = std::numeric_limits<double>::infinity();
  const Json extra = {{"loss", {1.5, std::nan(""), inf, -inf}}, {"nested", {{"best", -inf}}}, {"name", "nan"}};
  run.save(dir.file("ckpt"), extra);
  const Json back = run.load(dir.file("ckpt"));
  CHECK(back["loss"][0] == 1.5);
  CHECK(std::isnan(back["loss"][1].get<double>()));
  CHECK(back["loss"][2] == inf);
  CHECK(back["loss"][3] == -inf);
  CHECK(back["nested"]["best"] == -inf);
  CHECK(back["name"] == "nan");  // a string stays a string
}

TEST_CASE(
    "load_checkpoint: a hostile state.json (deep nesting, inexact integers) is refused, naming the file and field") {
  const nn::data::TensorDataset dataset = synthetic_dataset();
  TempDir dir;
  const std::string ckpt = dir.file("ckpt");
  Run source(dataset, Kind::SGD, 1);
  source.train(4);
  source.save(ckpt);
  const Json state = Json::parse(read_file(ckpt + "/state.json"));
  // A copy of the checkpoint whose state.json is `text`.
  const auto variant = [&](const std::string& name, const std::string& text) {
    const std::string path = dir.file(name);
    fs::copy(ckpt, path, fs::copy_options::recursive);
    write_file_atomically(path + "/state.json", text);
    return path;
  };
  Run target(dataset, Kind::SGD, 2);
  target.train(1);
  const Everything before = capture(target);

  // 'extra' nested a million levels: copying it overflowed the stack.
  Json without_extra = state;
  without_extra.erase("extra");
  const std::string nested = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  const std::string deep = variant("deep", without_extra.dump().insert(1, "\"extra\": " + nested + ", "));
  check_throws_with<std::runtime_error>([&] { target.load(deep); }, {deep + "/state.json", "nested deeper than 64"});
  for (const Json& epoch : {Json(2.7), Json(1e300)}) {
    Json bad = state;
    bad["loader"]["epoch"] = epoch;
    const std::string path = variant("epoch_" + epoch.dump(), bad.dump());
    check_throws_with<std::runtime_error>([&] { target.load(path); },
                                          {path + "/state.json", "field 'loader'", "field 'epoch' must be an integer"});
  }
  check_unchanged(target, before);
}
