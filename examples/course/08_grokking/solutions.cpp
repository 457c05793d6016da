// Lesson 8, grokking: reference solutions of exercises.hpp.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "examples/course/08_grokking/exercises.hpp"
#include "tensor/kernels.hpp"
#include "tensor/npy.hpp"

namespace pathgrad::course {

namespace K = pathgrad::kernel;

ReplicaFigures replica_figures(const std::string& explaind_dir) {
  const Tensor initial = load_npy(explaind_dir + "/initial_outputs.npy");  // [M]
  const Tensor real = load_npy(explaind_dir + "/real_outputs.npy");        // [M]
  const Tensor replica = load_npy(explaind_dir + "/replica.npy");          // [M]
  const Tensor error = K::abs(K::sub(replica, real));
  return {K::amax(error).item(), K::mean(error).item(), K::mean(K::abs(real)).item(),
          K::mean(K::abs(K::sub(real, initial))).item()};
}

std::vector<WindowShare> component_windows(const std::string& explaind_dir, const std::string& component) {
  const nlohmann::json manifest = nlohmann::json::parse(std::ifstream(explaind_dir + "/manifest.json"));
  int64_t c = -1;
  for (size_t i = 0; i < manifest["axes"]["component"].size(); ++i)
    if (manifest["axes"]["component"][i]["name"] == component) c = static_cast<int64_t>(i);
  if (c < 0) throw std::invalid_argument("component_windows: no component named " + component);
  std::vector<int64_t> rows;  // the validation probe scalars
  for (size_t m = 0; m < manifest["axes"]["probe_scalar"].size(); ++m) {
    const std::string set = manifest["axes"]["probe_scalar"][m]["set"];
    if (set == "val" || set == "val_sample_level") rows.push_back(static_cast<int64_t>(m));
  }
  const Tensor data = load_npy(explaind_dir + "/component_window_data.npy");    // [W, M, C]
  const Tensor decay = load_npy(explaind_dir + "/component_window_decay.npy");  // [W, M, C]
  std::vector<WindowShare> out(static_cast<size_t>(data.size(0)));
  for (int64_t w = 0; w < data.size(0); ++w) {
    for (int64_t m : rows) {
      out[w].data += data.at({w, m, c});
      out[w].decay += decay.at({w, m, c});
    }
    out[w].data /= static_cast<double>(rows.size());
    out[w].decay /= static_cast<double>(rows.size());
  }
  return out;
}

Milestones milestones(const std::string& run_dir) {
  std::ifstream csv(run_dir + "/metrics.csv");
  if (!csv) throw std::runtime_error("milestones: cannot open " + run_dir + "/metrics.csv");
  std::string line;
  std::getline(csv, line);  // header
  Milestones m;
  while (std::getline(csv, line)) {
    std::stringstream fields(line);
    std::string f[5];
    for (std::string& field : f) std::getline(fields, field, ',');
    const int64_t step = std::stoll(f[0]);
    if (!m.memorisation && std::stod(f[2]) >= 0.99) m.memorisation = step;
    if (!m.generalisation && std::stod(f[4]) >= 0.99) m.generalisation = step;
  }
  return m;
}

}  // namespace pathgrad::course
