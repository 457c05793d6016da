// Reading a tracker's manifest and arrays for the examples' analyses.
#include "examples/common/tracker_exports.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "tensor/json_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/npy.hpp"

namespace pathgrad::examples {

TrackerExports::TrackerExports(std::string dir) : dir_(std::move(dir)) {
  const std::string path = dir_ + "/manifest.json";
  manifest_ = read_json_file(path);
  if (!manifest_.contains("arrays") || !manifest_.contains("axes"))
    throw std::runtime_error(fmt::format("{}: no 'arrays' or 'axes': not a tracker manifest", path));
}

int64_t TrackerExports::steps() const { return manifest_.at("steps").get<int64_t>(); }

bool TrackerExports::has(const std::string& array) const { return manifest_["arrays"].contains(array); }

Tensor TrackerExports::load(const std::string& array) const {
  if (!has(array))
    throw std::runtime_error(
        fmt::format("{}/manifest.json lists no array '{}' (was the run tracked at this level?)", dir_, array));
  const std::string path = dir_ + "/" + manifest_["arrays"][array].at("file").get<std::string>();
  return load_npy(path).to(DType::Float64);
}

std::vector<int64_t> TrackerExports::rows_of_sets(const std::vector<std::string>& sets) const {
  std::vector<int64_t> rows;
  const nlohmann::json& probes = manifest_["axes"].at("probe_scalar");
  for (const std::string& set : sets)
    for (size_t m = 0; m < probes.size(); ++m)
      if (probes[m].at("set").get<std::string>() == set) rows.push_back(static_cast<int64_t>(m));
  return rows;
}

std::vector<int64_t> TrackerExports::sample_level_ids() const {
  std::vector<int64_t> ids;
  const nlohmann::json& probes = manifest_["axes"].at("probe_scalar");
  for (const auto& m : manifest_["axes"].at("sample_level_probe")) ids.push_back(probes.at(m.get<size_t>()).at("id"));
  return ids;
}

int64_t TrackerExports::component_index(const std::string& name) const {
  const nlohmann::json& comps = manifest_["axes"].at("component");
  std::string known;
  for (size_t c = 0; c < comps.size(); ++c) {
    if (comps[c].at("name").get<std::string>() == name) return static_cast<int64_t>(c);
    known += (c ? ", " : "") + comps[c].at("name").get<std::string>();
  }
  throw std::invalid_argument(fmt::format("{}/manifest.json: no component '{}' (components: {})", dir_, name, known));
}

std::vector<std::pair<int64_t, int64_t>> TrackerExports::component_ranges(const std::string& name) const {
  const nlohmann::json& c = manifest_["axes"]["component"][component_index(name)];
  if (!c.contains("ranges"))
    throw std::runtime_error(fmt::format("{}/manifest.json: component '{}' has no 'ranges'", dir_, name));
  return c["ranges"].get<std::vector<std::pair<int64_t, int64_t>>>();
}

std::vector<std::string> TrackerExports::parameter_names() const {
  std::vector<std::string> names;
  for (const auto& p : manifest_["axes"].at("parameter")) names.push_back(p.at("name").get<std::string>());
  return names;
}

std::vector<std::pair<int64_t, int64_t>> TrackerExports::windows() const {
  return manifest_["axes"].at("window").get<std::vector<std::pair<int64_t, int64_t>>>();
}

Tensor take_rows(const Tensor& matrix, const std::vector<int64_t>& rows) {
  return kernel::index_select(matrix, 0, Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())}))
      .to(DType::Float64);
}

Tensor take_column_ranges(const Tensor& matrix, const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  std::vector<Tensor> parts;
  for (const auto& [b, e] : ranges) parts.push_back(kernel::narrow(matrix, 1, b, e - b));
  return kernel::cat(parts, 1).to(DType::Float64);
}

}  // namespace pathgrad::examples
