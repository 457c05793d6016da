// Where the outputs of an example's run go, relative to its run directory (--out): the layout
// every example shares (an example adds its own files beside these).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>

namespace pathgrad::examples {

struct RunDir {
  std::string root;

  std::string file(const std::string& name) const { return root + "/" + name; }
  std::string config() const { return file("config.json"); }
  std::string command() const { return file("command.txt"); }
  std::string metrics_csv() const { return file("metrics.csv"); }
  std::string timings() const { return file("timings.json"); }
  // Interval weights, step 0 being the initial weights.
  std::string weights_dir() const { return file("weights"); }
  std::string weights(int64_t step) const { return fmt::format("{}/step_{:06d}.safetensors", weights_dir(), step); }
  std::string final_weights() const { return weights_dir() + "/final.safetensors"; }
  // The latest resume checkpoint (optim/checkpoint.hpp), the tracker's state inside it.
  std::string checkpoint() const { return file("checkpoint"); }
  std::string explaind() const { return file("explaind"); }
  // Plots are referenced by the report relative to the run directory.
  static std::string plot(const std::string& name) { return "plots/" + name + ".png"; }
  std::string analysis_csv(const std::string& name) const { return file("analyses/" + name + ".csv"); }
};

}  // namespace pathgrad::examples
