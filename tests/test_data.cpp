// Tests for nn/data/: the data loader (order, epochs, resume), modular arithmetic data, the
// CIFAR-10 binary reader on the shared cats-vs-dogs set, flips, and the IDX reader on Fashion-MNIST.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "nn/data/cifar.hpp"
#include "nn/data/dataset.hpp"
#include "nn/data/idx.hpp"
#include "nn/data/loader.hpp"
#include "nn/data/modular.hpp"
#include "nn/data/random_flip.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/kernels.hpp"

using namespace pathgrad;
using namespace pathgrad::nn::data;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed with its contents at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("pathgrad_test_data_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// The shared cats-vs-dogs set; fails the calling test (with the reason) when it is not there.
std::string cifar_catdog_dir() {
  const char* root = std::getenv("PATHGRAD_DATA");
  if (root == nullptr)
    FAIL(
        "PATHGRAD_DATA is not set: it must point to the shared data directory holding cifar10-catdog-bin/ "
        "(meson test sets it to <repo>/../shared/data)");
  const std::string dir = (fs::path(root) / "cifar10-catdog-bin").string();
  if (!fs::is_directory(dir))
    FAIL("the shared CIFAR-2 data is missing: " << dir << " does not exist (PATHGRAD_DATA=" << std::string(root)
                                                << ")");
  return dir;
}

// Examples with x[i] = (i, 10 i) and y[i] = i, so a batch's contents can be checked against its ids.
TensorDataset numbered_dataset(int64_t n) {
  std::vector<double> x;
  for (int64_t i = 0; i < n; ++i) x.insert(x.end(), {double(i), 10.0 * double(i)});
  return TensorDataset(Tensor::from_vector(x, {n, 2}, DType::Float64), Tensor::arange(n, DType::Int64));
}

std::vector<int64_t> ids_of(const Batch& b) {
  std::vector<int64_t> ids;
  for (double v : b.ids.to_vector()) ids.push_back(static_cast<int64_t>(v));
  return ids;
}

// The ids of every batch of one range-for epoch.
std::vector<std::vector<int64_t>> one_epoch(DataLoader& loader) {
  std::vector<std::vector<int64_t>> batches;
  for (const Batch& b : loader) batches.push_back(ids_of(b));
  return batches;
}

std::vector<std::vector<int64_t>> next_batches(DataLoader& loader, int count) {
  std::vector<std::vector<int64_t>> batches;
  for (int i = 0; i < count; ++i) batches.push_back(ids_of(loader.next()));
  return batches;
}

// The decompressed contents of a .gz file (zlib directly, independent of the IDX reader).
std::string gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  REQUIRE(f != nullptr);
  std::string out;
  char buf[1 << 16];
  int got;
  while ((got = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(got));
  gzclose(f);
  REQUIRE(got == 0);
  return out;
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.to_vector() == b.to_vector();
}

}  // namespace

// ---------------------------------------------------------------------------------- loader

TEST_CASE("loader: same seed gives the same batches, another seed other ones") {
  const TensorDataset ds = numbered_dataset(10);
  DataLoader a(ds, DataLoaderOptions(3).shuffle(true).seed(7));
  DataLoader b(ds, DataLoaderOptions(3).shuffle(true).seed(7));
  DataLoader c(ds, DataLoaderOptions(3).shuffle(true).seed(8));
  const auto a0 = one_epoch(a), a1 = one_epoch(a);
  CHECK(a0 == one_epoch(b));
  CHECK(a1 == one_epoch(b));
  CHECK(a0 != one_epoch(c));
  CHECK(a0 != a1);  // a new permutation each epoch
  CHECK(a.epoch() == 1);
  CHECK(a.position() == 4);
}

TEST_CASE("loader: every example exactly once per epoch, uneven last batch, drop_last") {
  const TensorDataset ds = numbered_dataset(10);
  DataLoader loader(ds, DataLoaderOptions(3).shuffle(true).seed(1));
  CHECK(loader.batches_per_epoch() == 4);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::multiset<int64_t> seen;
    std::vector<int64_t> sizes;
    for (const Batch& b : loader) {
      sizes.push_back(b.ids.size(0));
      for (int64_t i = 0; i < b.ids.size(0); ++i) {
        const int64_t id = static_cast<int64_t>(b.ids.at({i}));
        seen.insert(id);
        CHECK(b.x.at({i, 1}) == 10.0 * double(id));  // the batch holds the examples it names
        CHECK(b.y.at({i}) == double(id));
      }
    }
    CHECK(sizes == std::vector<int64_t>{3, 3, 3, 1});
    CHECK(seen == std::multiset<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(loader.epoch() == epoch);
  }

  DataLoader dropping(ds, DataLoaderOptions(3).shuffle(true).seed(1).drop_last(true));
  CHECK(dropping.batches_per_epoch() == 3);
  std::set<int64_t> seen;
  int batches = 0;
  for (const Batch& b : dropping) {
    CHECK(b.ids.size(0) == 3);
    for (int64_t id : ids_of(b)) seen.insert(id);
    ++batches;
  }
  CHECK(batches == 3);
  CHECK(seen.size() == 9);

  DataLoader in_order(ds, DataLoaderOptions(4));
  CHECK(one_epoch(in_order) == std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}});
  CHECK_THROWS_AS(DataLoader(ds, DataLoaderOptions(11).drop_last(true)), std::invalid_argument);
  CHECK_THROWS_AS(DataLoaderOptions(0), std::invalid_argument);
}

TEST_CASE("loader: next() crosses epochs; range-for resumes after break; last_batch") {
  const TensorDataset ds = numbered_dataset(10);
  DataLoader loader(ds, DataLoaderOptions(4).shuffle(true).seed(3));
  CHECK_THROWS_AS(loader.last_batch(), std::logic_error);
  DataLoader reference(ds, DataLoaderOptions(4).shuffle(true).seed(3));
  const auto expected = next_batches(reference, 6);  // two epochs of 3 batches

  std::vector<std::vector<int64_t>> got;
  for (const Batch& b : loader) {
    got.push_back(ids_of(b));
    CHECK(ids_of(loader.last_batch()) == got.back());
    break;  // leave after the first batch ...
  }
  for (const Batch& b : loader) got.push_back(ids_of(b));  // ... and finish the epoch
  CHECK(loader.epoch() == 0);
  got.push_back(ids_of(loader.next()));  // starts epoch 1
  CHECK(loader.epoch() == 1);
  CHECK(loader.position() == 1);
  for (const Batch& b : loader) got.push_back(ids_of(b));
  CHECK(got == expected);
}

TEST_CASE("loader: state/set_state resumes with identical batches, across an epoch boundary") {
  const TensorDataset ds = numbered_dataset(10);
  const DataLoaderOptions options = DataLoaderOptions(3).shuffle(true).seed(11);
  for (int stop_after : {2, 4, 5}) {  // mid-epoch, at the end of epoch 0, inside epoch 1
    CAPTURE(stop_after);
    DataLoader original(ds, options);
    next_batches(original, stop_after);
    // through JSON text, as a checkpoint file would
    const std::string saved = nlohmann::json(original.state()).dump();
    const auto remaining = next_batches(original, 7);

    DataLoader resumed(ds, options);
    resumed.set_state(nlohmann::json::parse(saved).get<DataLoaderState>());
    CHECK(resumed.epoch() == (stop_after <= 4 ? 0 : 1));
    CHECK(remaining == next_batches(resumed, 7));
  }
  DataLoader other(ds, DataLoaderOptions(4).shuffle(true).seed(11));
  CHECK_THROWS_AS(other.set_state(DataLoader(ds, options).state()), std::invalid_argument);
  DataLoaderState bad = DataLoader(ds, options).state();
  bad.position = 5;
  CHECK_THROWS_AS(DataLoader(ds, options).set_state(bad), std::invalid_argument);
  CHECK_THROWS_AS(nlohmann::json::parse(R"({"epoch": 1})").get<DataLoaderState>(), std::invalid_argument);
}

TEST_CASE("loader: a state read from JSON takes exact integers in range only, naming the field") {
  const TensorDataset ds = numbered_dataset(10);
  const nlohmann::json good = DataLoader(ds, DataLoaderOptions(3).shuffle(true).seed(11)).state();
  struct Case {
    const char* field;
    nlohmann::json value;
  };
  const std::vector<Case> cases = {{"epoch", 2.7},
                                   {"epoch", 1e300},
                                   {"epoch", -1},
                                   {"epoch", "2"},
                                   {"position", 1.0},
                                   {"batch_size", 0},
                                   {"dataset_size", 18446744073709551615ull},
                                   {"seed", -3},
                                   {"seed", 1.5}};
  for (const Case& c : cases) {
    nlohmann::json j = good;
    j[c.field] = c.value;
    INFO(c.field, " = ", c.value.dump());
    const std::string expected = std::string("field '") + c.field + "' must be an integer in";
    CHECK_THROWS_WITH_AS(j.get<DataLoaderState>(), doctest::Contains(expected.c_str()), std::invalid_argument);
  }
  nlohmann::json j = good;
  j["epoch_generator"]["s"][2] = 3.5;
  CHECK_THROWS_WITH_AS(j.get<DataLoaderState>(), doctest::Contains("field 's[2]' must be an integer"),
                       std::invalid_argument);
  CHECK(good.get<DataLoaderState>().seed == 11);
}

TEST_CASE("loader: full batch without shuffling is gathered once") {
  const TensorDataset ds = numbered_dataset(10);
  DataLoader full(ds, DataLoaderOptions(10));
  const Tensor first = full.next().x;
  const Tensor second = full.next().x;
  CHECK(full.epoch() == 1);
  CHECK(first.same(second));  // the very same tensor: no re-gather
  CHECK(same_values(first, ds.x()));

  DataLoader shuffled(ds, DataLoaderOptions(100).shuffle(true).seed(2));
  const auto e0 = one_epoch(shuffled), e1 = one_epoch(shuffled);
  REQUIRE(e0.size() == 1);
  CHECK(e0[0].size() == 10);
  CHECK(e0 != e1);
}

// ---------------------------------------------------------------------------- modular arithmetic

TEST_CASE("modular: the paper's split for p = 113") {
  CHECK_THROWS_AS(make_modular_data(ModularOptions().n_val(2000).n_train(4442)), std::invalid_argument);
  CHECK(make_modular_data(ModularOptions().n_val(2000).n_train(4441)).train.size() == 4441);  // 6,441 pairs in all

  const ModularData data = make_modular_data(ModularOptions().seed(5));
  REQUIRE(data.val.size() == 2000);
  REQUIRE(data.train.size() == 4000);
  CHECK(data.vocab_size() == 115);
  CHECK(data.train.x.shape() == Shape{4000, 4});
  CHECK(data.train.y.dtype() == DType::Int64);
  std::set<std::pair<int64_t, int64_t>> train_pairs, val_pairs;
  for (int64_t i = 0; i < data.train.size(); ++i) {
    const int64_t a = static_cast<int64_t>(data.train.pairs.at({i, 0})),
                  b = static_cast<int64_t>(data.train.pairs.at({i, 1}));
    CHECK(a >= b);
    train_pairs.insert({a, b});
    CHECK(data.train.x.at({i, 0}) == a);
    CHECK(data.train.x.at({i, 1}) == 113);
    CHECK(data.train.x.at({i, 2}) == b);
    CHECK(data.train.x.at({i, 3}) == 114);
    CHECK(data.train.y.at({i}) == (a + b) % 113);
  }
  for (int64_t i = 0; i < data.val.size(); ++i)
    val_pairs.insert(
        {static_cast<int64_t>(data.val.pairs.at({i, 0})), static_cast<int64_t>(data.val.pairs.at({i, 1}))});
  CHECK(train_pairs.size() == 4000);
  CHECK(val_pairs.size() == 2000);
  for (const auto& pair : val_pairs) CHECK(train_pairs.count(pair) == 0);

  CHECK(same_values(make_modular_data(ModularOptions().seed(5)).train.x, data.train.x));
  CHECK_FALSE(same_values(make_modular_data(ModularOptions().seed(6)).train.x, data.train.x));
  const ModularData ordered = make_modular_data(ModularOptions().ordered_pairs(true).n_val(0).n_train(113 * 113));
  CHECK(ordered.train.size() == 12769);
  CHECK(ordered.val.size() == 0);
  CHECK(data.train.dataset().size() == 4000);
}

TEST_CASE("modular: results of each operation") {
  CHECK(modular_result(3, 5, 7, ModularOp::Add) == 1);
  CHECK(modular_result(3, 5, 7, ModularOp::Sub) == 5);
  CHECK(modular_result(3, 5, 7, ModularOp::Mul) == 1);
  CHECK(modular_result(3, 5, 7, ModularOp::Div) == 2);  // 5⁻¹ = 3 mod 7, 3 · 3 = 9 = 2
  CHECK_THROWS_AS(modular_result(3, 0, 7, ModularOp::Div), std::invalid_argument);

  const ModularData div =
      make_modular_data(ModularOptions().op(ModularOp::Div).ordered_pairs(true).n_val(0).n_train(113 * 112));
  for (int64_t i = 0; i < div.train.size(); ++i) {
    const int64_t a = static_cast<int64_t>(div.train.pairs.at({i, 0})),
                  b = static_cast<int64_t>(div.train.pairs.at({i, 1}));
    REQUIRE(b != 0);
    CHECK((static_cast<int64_t>(div.train.y.at({i})) * b) % 113 == a);  // y = a / b  <=>  y · b = a
  }
  const ModularData sub =
      make_modular_data(ModularOptions().op(ModularOp::Sub).p(7).ordered_pairs(true).n_val(9).n_train(40));
  for (int64_t i = 0; i < sub.train.size(); ++i)
    CHECK((static_cast<int64_t>(sub.train.y.at({i})) + static_cast<int64_t>(sub.train.pairs.at({i, 1}))) % 7 ==
          sub.train.pairs.at({i, 0}));
  CHECK_THROWS_AS(make_modular_data(ModularOptions().op(ModularOp::Div).p(114).n_val(10).n_train(10)),
                  std::invalid_argument);
  CHECK_NOTHROW(make_modular_data(ModularOptions().op(ModularOp::Mul).p(114).n_val(10).n_train(10)));
  CHECK_THROWS_AS(make_modular_data(ModularOptions().p(1)), std::invalid_argument);
}

TEST_CASE("modular: CSV round trip and a tampered file") {
  TempDir tmp;
  const ModularData data = make_modular_data(ModularOptions().op(ModularOp::Mul).seed(3).n_val(300).n_train(500));
  data.save_csv(tmp / "pairs.csv");
  const std::string text = read_file(tmp / "pairs.csv");
  CHECK(text.rfind("split,index,a,b,result\ntrain,0,", 0) == 0);
  const ModularData back = load_modular_csv(tmp / "pairs.csv", 113, ModularOp::Mul);
  CHECK(same_values(back.train.pairs, data.train.pairs));
  CHECK(same_values(back.train.x, data.train.x));
  CHECK(same_values(back.val.y, data.val.y));

  // the first training row with its result replaced by a wrong one
  const size_t row_end = text.find('\n', text.find('\n') + 1);
  const size_t last_comma = text.rfind(',', row_end);
  const int64_t wrong = (static_cast<int64_t>(data.train.y.at({0})) + 1) % 113;
  write_bytes(tmp / "bad.csv", text.substr(0, last_comma + 1) + std::to_string(wrong) + text.substr(row_end));
  CHECK_THROWS_WITH_AS(load_modular_csv(tmp / "bad.csv", 113, ModularOp::Mul),
                       doctest::Contains("bad.csv:2: expected result"), std::runtime_error);
  CHECK_THROWS_AS(load_modular_csv(tmp / "pairs.csv", 113, ModularOp::Add), std::runtime_error);
  CHECK_THROWS_AS(load_modular_csv(tmp / "missing.csv", 113, ModularOp::Add), std::runtime_error);
}

// ------------------------------------------------------------------------------------- CIFAR

TEST_CASE("CIFAR-2 from the shared binary batches: sizes, relabelling, raw bytes") {
  const std::string dir = cifar_catdog_dir();
  const ImageSplits cifar2 = load_cifar10(dir, ImageOptions().classes({3, 5}));
  REQUIRE(cifar2.train.size() == 10000);
  REQUIRE(cifar2.test.size() == 2000);
  CHECK(cifar2.train.images.shape() == Shape{10000, 3, 32, 32});
  CHECK(cifar2.train.images.dtype() == DType::Float32);
  CHECK(kernel::sum(cifar2.train.labels).item() == 5000);  // dogs are 1, cats 0
  CHECK(kernel::sum(cifar2.test.labels).item() == 1000);
  CHECK(kernel::amin(cifar2.train.images).item() >= 0.0);
  CHECK(kernel::amax(cifar2.train.images).item() <= 1.0);
  CHECK(cifar2.stats.mean.empty());

  // record r of a file: label byte at r * 3073, pixel (c, h, w) at r * 3073 + 1 + c * 1024 + h * 32 + w
  const auto check_record = [](const ImageSet& set, int64_t index, const std::string& file, int64_t record) {
    const std::string raw = read_file(file);
    const size_t base = static_cast<size_t>(record * 3073);
    const uint8_t label = static_cast<uint8_t>(raw[base]);
    REQUIRE((label == 3 || label == 5));
    CHECK(set.labels.at({index}) == (label == 3 ? 0 : 1));
    for (const auto& [c, h, w] : {std::tuple<int64_t, int64_t, int64_t>{0, 0, 0}, {1, 5, 7}, {2, 31, 30}}) {
      const uint8_t byte = static_cast<uint8_t>(raw[base + 1 + static_cast<size_t>(c * 1024 + h * 32 + w)]);
      CHECK(set.images.at({index, c, h, w}) == doctest::Approx(byte / 255.0).epsilon(1e-7));
    }
  };
  check_record(cifar2.train, 0, dir + "/data_batch_1.bin", 0);
  check_record(cifar2.train, 2000 + 17, dir + "/data_batch_2.bin", 17);  // files concatenated in order
  check_record(cifar2.train, 9999, dir + "/data_batch_5.bin", 1999);
  check_record(cifar2.test, 1234, dir + "/test_batch.bin", 1234);

  const ImageSet raw_test = read_cifar10_split(dir, CifarSplit::Test);  // no filter: CIFAR-10 labels
  CHECK(raw_test.images.dtype() == DType::UInt8);
  CHECK((raw_test.labels.at({0}) == 3 || raw_test.labels.at({0}) == 5));
  CHECK_THROWS_AS(load_cifar10(dir, ImageOptions().classes({0})), std::runtime_error);  // no airplanes here
  CHECK_THROWS_AS(load_cifar10(dir, ImageOptions().classes({3, 10})), std::invalid_argument);
}

TEST_CASE("CIFAR-2: per-channel normalisation with training-set statistics") {
  const std::string dir = cifar_catdog_dir();
  // the statistics straight from the raw bytes of the five training files (pixels are float32)
  double sum[3] = {0, 0, 0}, sum_sq[3] = {0, 0, 0};
  int64_t count = 0;
  for (int f = 1; f <= 5; ++f) {
    const std::string raw = read_file(dir + "/data_batch_" + std::to_string(f) + ".bin");
    for (size_t r = 0; r < raw.size() / 3073; ++r, count += 1024)
      for (size_t c = 0; c < 3; ++c)
        for (size_t k = 0; k < 1024; ++k) {
          const double v = static_cast<float>(static_cast<uint8_t>(raw[r * 3073 + 1 + c * 1024 + k])) / 255.0f;
          sum[c] += v;
          sum_sq[c] += v * v;
        }
  }
  const ImageSplits cifar2 = load_cifar10(dir, ImageOptions().classes({3, 5}).normalize(true));
  REQUIRE(cifar2.stats.mean.size() == 3);
  for (size_t c = 0; c < 3; ++c) {
    const double mean = sum[c] / double(count), stddev = std::sqrt(sum_sq[c] / double(count) - mean * mean);
    CHECK(cifar2.stats.mean[c] == doctest::Approx(mean).epsilon(1e-9));
    CHECK(cifar2.stats.std[c] == doctest::Approx(stddev).epsilon(1e-6));
  }
  const ChannelStats after = channel_stats(cifar2.train.images);
  for (size_t c = 0; c < 3; ++c) {
    CHECK(std::abs(after.mean[c]) < 1e-5);
    CHECK(after.std[c] == doctest::Approx(1.0).epsilon(1e-5));
  }
  // the test set uses the training statistics: pixel (1, 3, 4) of test record 7
  const double v =
      static_cast<uint8_t>(read_file(dir + "/test_batch.bin")[7 * 3073 + 1 + 1 * 1024 + 3 * 32 + 4]) / 255.0;
  CHECK(cifar2.test.images.at({7, 1, 3, 4}) ==
        doctest::Approx((v - cifar2.stats.mean[1]) / cifar2.stats.std[1]).epsilon(1e-5));
  // given statistics are used as they are
  const ChannelStats given{{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}};
  const ImageSplits fixed = load_cifar10(dir, ImageOptions().classes({3, 5}).stats(given));
  CHECK(fixed.test.images.at({7, 1, 3, 4}) == doctest::Approx((v - 0.5) / 0.25).epsilon(1e-6));
}

TEST_CASE("CIFAR-2: seeded random horizontal flips per batch") {
  const ImageSplits cifar2 = load_cifar10(cifar_catdog_dir(), ImageOptions().classes({3, 5}));
  const TensorDataset train = cifar2.train.dataset();
  const Tensor ids = Tensor::arange(64, DType::Int64);
  const Tensor original = train.get(ids).x;
  const Tensor mirrored = kernel::index_select(original, 3,
                                               Tensor::from_vector(
                                                   [] {
                                                     std::vector<int64_t> r;
                                                     for (int64_t w = 31; w >= 0; --w) r.push_back(w);
                                                     return r;
                                                   }(),
                                                   {32}));
  // which examples of a flipped batch are mirrored (each must be either untouched or mirrored)
  const auto flip_pattern = [&](const Tensor& x) {
    std::vector<bool> flipped;
    for (int64_t i = 0; i < 64; ++i) {
      const Tensor xi = kernel::narrow(x, 0, i, 1);
      const bool same = same_values(xi, kernel::narrow(original, 0, i, 1));
      const bool mirror = same_values(xi, kernel::narrow(mirrored, 0, i, 1));
      CHECK((same || mirror));
      flipped.push_back(mirror && !same);
    }
    return flipped;
  };
  const RandomHorizontalFlip a(train, 1), b(train, 1), c(train, 2);
  const auto pa = flip_pattern(a.get(ids).x);
  const int flips = static_cast<int>(std::count(pa.begin(), pa.end(), true));
  CHECK(flips > 10);
  CHECK(flips < 54);
  CHECK(pa == flip_pattern(b.get(ids).x));         // same seed, same batch order: same flips
  CHECK(pa != flip_pattern(c.get(ids).x));         // another seed: other flips
  CHECK(pa != flip_pattern(a.get(ids).x));         // the next batch draws new flips
  CHECK(same_values(train.get(ids).x, original));  // the base data is not modified

  // a loader over the flips resumes with the identical augmented batches
  const TensorDataset subset(kernel::narrow(cifar2.train.images, 0, 0, 250),
                             kernel::narrow(cifar2.train.labels, 0, 0, 250));
  const DataLoaderOptions options = DataLoaderOptions(100).shuffle(true).seed(9);
  const RandomHorizontalFlip flipping(subset, 3), flipping_again(subset, 3);
  DataLoader loader(flipping, options);
  loader.next();
  loader.next();
  const DataLoaderState saved = loader.state();
  const Tensor expected = loader.next().x;  // the third batch of epoch 0
  DataLoader resumed(flipping_again, options);
  resumed.set_state(saved);
  CHECK(same_values(resumed.next().x, expected));
  const Tensor more = loader.next().x;  // epoch 1: an augmented full batch is not reused
  CHECK(same_values(resumed.next().x, more));
}

TEST_CASE("CIFAR-10 reader: clear errors for a missing directory, a truncated file, a bad label") {
  const std::string dir = cifar_catdog_dir();
  CHECK_THROWS_WITH_AS(
      read_cifar10_split("/nonexistent/cifar-10-batches-bin", CifarSplit::Train),
      doctest::Contains("/nonexistent/cifar-10-batches-bin does not exist; CIFAR-10 binary batches were expected"),
      std::runtime_error);
  TempDir tmp;
  CHECK_THROWS_WITH_AS(read_cifar10_split(tmp.path.string(), CifarSplit::Test),
                       doctest::Contains("test_batch.bin not found; CIFAR-10 binary batches were expected"),
                       std::runtime_error);
  for (int f = 1; f <= 5; ++f) {
    const std::string name = "data_batch_" + std::to_string(f) + ".bin";
    fs::copy_file(dir + "/" + name, tmp / name);
  }
  fs::permissions(tmp / "data_batch_3.bin", fs::perms::owner_write, fs::perm_options::add);
  fs::resize_file(tmp / "data_batch_3.bin", 2000 * 3073 - 1000);
  CHECK_THROWS_WITH_AS(
      read_cifar10_split(tmp.path.string(), CifarSplit::Train),
      doctest::Contains("data_batch_3.bin has 6145000 bytes, expected a positive multiple of the record size 3073"),
      std::runtime_error);

  std::string test_batch = read_file(dir + "/test_batch.bin");
  test_batch[5 * 3073] = 12;  // record 5 gets label 12
  write_bytes(tmp / "test_batch.bin", test_batch);
  CHECK_THROWS_WITH_AS(read_cifar10_file(tmp / "test_batch.bin"),
                       doctest::Contains("label 12 at record 5, expected a class in [0, 10)"), std::runtime_error);
}

// ------------------------------------------------------------------------------ IDX / Fashion-MNIST

TEST_CASE("Fashion-MNIST from the Debian package: sizes, labels, class filter") {
  REQUIRE_MESSAGE(fs::is_directory(kDebianFashionMnistDir),
                  "Fashion-MNIST is missing: install the Debian package dataset-fashion-mnist");
  const ImageSplits fm = load_fashion_mnist();
  CHECK(fm.train.images.shape() == Shape{60000, 1, 28, 28});
  CHECK(fm.test.images.shape() == Shape{10000, 1, 28, 28});
  CHECK(fm.train.labels.shape() == Shape{60000});
  CHECK(kernel::amax(fm.train.labels).item() == 9);
  CHECK(kernel::amax(fm.train.images).item() <= 1.0);
  const ImageSplits two = load_fashion_mnist(kDebianFashionMnistDir, ImageOptions().classes({9, 7}));
  CHECK(two.train.size() == 12000);  // 6,000 per class
  CHECK(two.test.size() == 2000);
  CHECK(kernel::sum(two.train.labels).item() == 6000);  // 7 -> 1
  CHECK_THROWS_WITH_AS(load_fashion_mnist("/nonexistent/fashion"),
                       doctest::Contains("/nonexistent/fashion does not exist"), std::runtime_error);
}

TEST_CASE("IDX: .gz and plain read identically; bad magic, truncation, count mismatch") {
  const std::string gz_images = std::string(kDebianFashionMnistDir) + "/t10k-images-idx3-ubyte.gz";
  const std::string gz_labels = std::string(kDebianFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz";
  REQUIRE_MESSAGE(fs::exists(gz_images), "Fashion-MNIST is missing: install the Debian package dataset-fashion-mnist");
  TempDir tmp;
  const std::string images_bytes = gunzip(gz_images), labels_bytes = gunzip(gz_labels);
  write_bytes(tmp / "t10k-images-idx3-ubyte", images_bytes);
  write_bytes(tmp / "t10k-labels-idx1-ubyte", labels_bytes);
  const ImageSet from_gz = read_idx_pair(gz_images, gz_labels);
  const ImageSet from_plain = read_idx_pair(tmp / "t10k-images-idx3-ubyte", tmp / "t10k-labels-idx1-ubyte");
  CHECK(from_gz.images.shape() == Shape{10000, 1, 28, 28});
  CHECK(from_gz.images.dtype() == DType::UInt8);
  CHECK(same_values(from_gz.images, from_plain.images));
  CHECK(same_values(from_gz.labels, from_plain.labels));
  CHECK(from_gz.images.at({3, 0, 14, 9}) == static_cast<uint8_t>(images_bytes[16 + 3 * 784 + 14 * 28 + 9]));
  CHECK(from_gz.labels.at({42}) == static_cast<uint8_t>(labels_bytes[8 + 42]));

  std::string bad = labels_bytes;
  bad[3] = 0x03;
  write_bytes(tmp / "bad-magic", bad);
  CHECK_THROWS_WITH_AS(read_idx_labels(tmp / "bad-magic"),
                       doctest::Contains("magic number 0x00000803, expected 0x00000801"), std::runtime_error);
  write_bytes(tmp / "short-images", images_bytes.substr(0, images_bytes.size() - 100));
  CHECK_THROWS_WITH_AS(read_idx_images(tmp / "short-images"),
                       doctest::Contains("expected 7840000 bytes of images after the header, found 7839900"),
                       std::runtime_error);
  write_bytes(tmp / "header-only", images_bytes.substr(0, 10));
  CHECK_THROWS_AS(read_idx_images(tmp / "header-only"), std::runtime_error);
  const std::string gz_train_labels = std::string(kDebianFashionMnistDir) + "/train-labels-idx1-ubyte.gz";
  const std::string mismatch = "holds 10000 images but " + gz_train_labels + " holds 60000 labels";
  CHECK_THROWS_WITH_AS(read_idx_pair(gz_images, gz_train_labels), doctest::Contains(mismatch.c_str()),
                       std::runtime_error);
  const std::string gz_bytes = read_file(gz_labels);
  write_bytes(tmp / "truncated.gz", gz_bytes.substr(0, gz_bytes.size() / 2));
  CHECK_THROWS_AS(read_idx_labels(tmp / "truncated.gz"), std::runtime_error);
}

namespace {
// An IDX header: magic 0x0803 (images, 3 dims), then the dims, big-endian.
std::string idx_images_header(uint32_t n, uint32_t rows, uint32_t cols) {
  std::string s;
  for (uint32_t v : {uint32_t{0x0803}, n, rows, cols})
    for (int shift : {24, 16, 8, 0}) s += static_cast<char>((v >> shift) & 0xff);
  return s;
}
}  // namespace

TEST_CASE("IDX: zero images give an empty tensor; dims that overflow next to a zero are refused") {
  TempDir tmp;
  write_bytes(tmp / "empty", idx_images_header(0, 28, 28));
  const Tensor empty = read_idx_images(tmp / "empty");
  CHECK(empty.shape() == Shape{0, 28, 28});
  write_bytes(tmp / "zero-next-to-huge", idx_images_header(0, 0xffffffff, 0xffffffff));
  CHECK_THROWS_WITH_AS(
      read_idx_images(tmp / "zero-next-to-huge"),
      doctest::Contains("zero-next-to-huge has dims [0, 4294967295, 4294967295], too large for a tensor"),
      std::runtime_error);
}
