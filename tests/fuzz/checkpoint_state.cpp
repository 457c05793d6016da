// libFuzzer target: a checkpoint's state.json — the bounded JSON reader, then load_checkpoint's
// parsing and checks of the step, the loader state and the generators — next to the valid model
// and optimizer files of a real checkpoint of the tiny run.
#include "tests/fuzz/fuzz_input.hpp"
#include "tests/fuzz/tiny_run.hpp"

namespace {

struct Fixture {
  pathgrad::fuzz::TinyRun run;
  pathgrad::Generator augment{5};
  std::string dir = pathgrad::fuzz::scratch_dir() + "/ckpt";
  Fixture() { pathgrad::fuzz::save_tiny_checkpoint(run, augment, dir); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* f = new Fixture;  // never destroyed: the fuzzer exits without unwinding
  pathgrad::fuzz::write_input(data, size, "ckpt/state.json");
  pathgrad::fuzz::expect_clean([&] {
    pathgrad::optim::load_checkpoint(f->dir, *f->run.model, *f->run.optimizer, f->run.loader,
                                     {{pathgrad::fuzz::kGeneratorName, &f->augment}});
  });
  return 0;
}
