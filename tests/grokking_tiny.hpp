// The grokking example's tiny configuration for tests (p = 11, a narrow model): a tracked run in
// seconds. Shared by tests/test_grokking_e2e.cpp and the course's lesson-8 test.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "examples/grokking/config.hpp"

namespace grokking_test {

// Output in <temp dir>/pathgrad_test_grokking_<name>, emptied first.
inline pathgrad::grokking::Config tiny(const std::string& name, pathgrad::grokking::TrackLevel track, int64_t steps) {
  namespace fs = std::filesystem;
  pathgrad::grokking::Config c;
  c.p = 11;
  c.n_train = 40;
  c.n_val = 20;
  c.d_model = 16;
  c.heads = 2;
  c.d_head = 8;
  c.d_mlp = 32;
  c.lr = 1e-2;
  c.weight_decay = 1.0;
  c.steps = steps;
  c.checkpoint_every = 5;
  c.progress_every = 10;
  c.track = track;
  c.val_probes = 20;
  c.sample_probes = 6;
  c.train_probes = 5;
  c.output_probes = 3;
  c.window_edges = {4, 9};
  c.threads = 1;
  c.shards = 1;  // as a one-process run records it (0 means one shard per rank)
  c.out = (fs::temp_directory_path() / ("pathgrad_test_grokking_" + name)).string();
  fs::remove_all(c.out);
  return c;
}

}  // namespace grokking_test
