// Tests for nn/serialize.hpp: module weights as safetensors — round trip with dtypes kept, the
// metadata, load errors naming the file and the keys, and numpy alone reading the file (through
// docs/read_safetensors.py, skipped when /usr/bin/python3 has no numpy).
#include <doctest/doctest.h>

#include <cstdlib>
#include <memory>

#include "nn/nn.hpp"
#include "nn/serialize.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/npy.hpp"
#include "tensor/safetensors.hpp"
#include "tests/checkpoint_helpers.hpp"
#include "tests/nn_helpers.hpp"

using namespace pathgrad;
using namespace checkpoint_test;
using nn_test::check_throws_with;

namespace {

// Parameters of both float dtypes, integer buffers, a nested child.
struct Mixed : nn::Module {
  std::shared_ptr<nn::Sequential> body;
  Tensor scale, counts, mask;
  explicit Mixed(uint64_t seed) {
    nn::manual_seed(seed);
    body = register_module("body", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<Module>>{
                                       std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::ReLU>(),
                                       std::make_shared<nn::Linear>(4, 2)}));
    scale = register_parameter("scale", rand_normal({2}, 0, 1, nn::default_generator(), DType::Float64));
    counts = register_buffer("counts",
                             Tensor::from_vector(std::vector<int64_t>{static_cast<int64_t>(seed), -5, 1LL << 40}, {3}));
    Tensor m = Tensor::zeros({2, 2}, DType::UInt8);
    m.set({1, 0}, static_cast<double>(seed % 256));
    mask = register_buffer("mask", m);
  }
};

NamedTensors edited(NamedTensors state, const std::string& drop, const std::string& add = "", Tensor added = {}) {
  std::erase_if(state, [&](const auto& e) { return e.first == drop; });
  if (!add.empty()) state.emplace_back(add, added);
  return state;
}

}  // namespace

TEST_CASE("save_weights / load_weights: round trip with dtypes kept, metadata, in-place load") {
  TempDir dir;
  const std::string file = dir.file("sub/dir/mixed.safetensors");  // parent directories are created
  Mixed saved(1), loaded(2);
  REQUIRE_FALSE(bitwise_equal(saved.scale, loaded.scale));
  nn::save_weights(saved, file);

  const SafetensorsContents contents = load_safetensors(file);
  CHECK(contents.metadata == std::map<std::string, std::string>{{"format", "pathgrad"}, {"module", "Mixed"}});
  check_same_state(contents.tensors, saved.state_dict());
  for (const auto& [name, t] : contents.tensors) {
    INFO(name);
    if (name == "scale") CHECK(t.dtype() == DType::Float64);
    if (name == "counts") CHECK(t.dtype() == DType::Int64);
    if (name == "mask") CHECK(t.dtype() == DType::UInt8);
    if (name == "body.0.weight") CHECK(t.dtype() == DType::Float32);
  }

  const Tensor handle = loaded.scale;  // what an optimizer would hold
  nn::load_weights(loaded, file);
  check_same_state(loaded.state_dict(), saved.state_dict());
  CHECK(loaded.scale.same(handle));
  CHECK(loaded.named_parameters()[0].second.same(handle));
}

TEST_CASE("load_weights: errors name the file and every missing, unexpected and mis-shaped key; nothing changes") {
  TempDir dir;
  Mixed source(1), target(2);
  const NamedTensors before = snapshot(target.state_dict());
  const NamedTensors full = source.state_dict();

  const std::string missing = dir.file("missing.safetensors");
  save_safetensors(missing, edited(full, "body.2.bias"));
  check_throws_with<std::invalid_argument>([&] { nn::load_weights(target, missing); },
                                           {"load_weights", missing, "missing keys [body.2.bias]"});

  const std::string unexpected = dir.file("unexpected.safetensors");
  save_safetensors(unexpected, edited(full, "", "body.9.weight", Tensor::zeros({1})));
  check_throws_with<std::invalid_argument>([&] { nn::load_weights(target, unexpected); },
                                           {unexpected, "unexpected keys [body.9.weight]"});

  const std::string misshaped = dir.file("misshaped.safetensors");
  save_safetensors(misshaped, edited(full, "body.0.weight", "body.0.weight", Tensor::zeros({4, 5})));
  check_throws_with<std::invalid_argument>(
      [&] { nn::load_weights(target, misshaped); },
      {misshaped, "'body.0.weight' is float32 [4, 5], the module has float32 [4, 3]"});

  const std::string mistyped = dir.file("mistyped.safetensors");
  save_safetensors(mistyped, edited(full, "scale", "scale", Tensor::zeros({2}, DType::Float32)));
  check_throws_with<std::invalid_argument>([&] { nn::load_weights(target, mistyped); },
                                           {mistyped, "'scale' is float32 [2], the module has float64 [2]"});

  const std::string absent = dir.file("absent.safetensors");
  check_throws_with<std::runtime_error>([&] { nn::load_weights(target, absent); }, {absent});
  check_same_state(target.state_dict(), before);

  SUBCASE("strict=false ignores missing and unexpected keys but not mis-shaped ones") {
    nn::load_weights(target, missing, /*strict=*/false);
    nn::load_weights(target, unexpected, /*strict=*/false);
    check_same_state(target.state_dict(), source.state_dict());
    CHECK_THROWS_AS(nn::load_weights(target, misshaped, /*strict=*/false), std::invalid_argument);
  }
}

TEST_CASE("numpy alone reads save_weights' file (docs/read_safetensors.py)") {
  if (!fs::exists("/usr/bin/python3") || std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 with numpy is not available");
    return;
  }
  const char* source = std::getenv("PATHGRAD_SOURCE");
  REQUIRE_MESSAGE(source != nullptr, "PATHGRAD_SOURCE must point to the repository (meson test sets it)");
  TempDir dir;
  Mixed model(3);
  nn::save_weights(model, dir.file("model.safetensors"));
  for (const auto& [name, t] : model.state_dict()) save_npy(dir.file(name + ".npy"), t);
  // The documented reader must give every tensor with its dtype, shape and values, in order.
  const std::string script = R"PY(
import sys, numpy as np
sys.path.insert(0, sys.argv[1] + "/docs")
from read_safetensors import load
out = sys.argv[2]
tensors, metadata = load(out + "/model.safetensors")
assert metadata == {"format": "pathgrad", "module": "Mixed"}, metadata
assert list(tensors) == sys.argv[3].split(","), list(tensors)
for name, array in tensors.items():
    expected = np.load(out + "/" + name + ".npy")
    assert array.dtype == expected.dtype and array.shape == expected.shape, (name, array.dtype, array.shape)
    assert array.tobytes() == expected.tobytes(), name
)PY";
  write_file_atomically(dir.file("check.py"), script);
  std::string names;
  for (const auto& [name, t] : model.state_dict()) names += (names.empty() ? "" : ",") + name;
  const std::string command =
      "/usr/bin/python3 " + dir.file("check.py") + " " + source + " " + dir.path.string() + " " + names;
  CHECK(std::system(command.c_str()) == 0);
}
