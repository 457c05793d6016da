// libFuzzer target: a tracker state (tracker_state.safetensors: the tensors and the JSON metadata
// of the path kernel), loaded by building a Tracker that resumes from it; its per-sample buffers
// (sample_buffers_0_of_1.safetensors) are the fixture's, so that a valid state resumes.
#include <filesystem>

#include "tests/fuzz/fuzz_input.hpp"
#include "tests/fuzz/tiny_run.hpp"

namespace {

namespace fs = std::filesystem;

// The streamed .part files of a tracked run after 3 steps, copied afresh before every input (a
// successful resume truncates them).
struct Fixture {
  std::string pristine = pathgrad::fuzz::scratch_dir() + "/pristine", out = pathgrad::fuzz::scratch_dir() + "/out";
  Fixture() {
    pathgrad::fuzz::TinyRun run;
    auto tracker = pathgrad::fuzz::make_tracker(run, pristine, "");
    run.train(3);
    const std::string saved = pathgrad::fuzz::scratch_dir() + "/saved", buffers = "/sample_buffers_0_of_1.safetensors";
    tracker->save_state(saved);
    fs::copy_file(saved + buffers, pathgrad::fuzz::scratch_dir() + buffers, fs::copy_options::overwrite_existing);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* f = new Fixture;  // never destroyed: the fuzzer exits without unwinding
  fs::remove_all(f->out);
  fs::copy(f->pristine, f->out, fs::copy_options::recursive);
  pathgrad::fuzz::write_input(data, size, "tracker_state.safetensors");
  pathgrad::fuzz::TinyRun run;
  pathgrad::fuzz::expect_clean([&] { pathgrad::fuzz::make_tracker(run, f->out, pathgrad::fuzz::scratch_dir()); });
  return 0;
}
