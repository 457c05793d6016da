// Exports of a tracked run: summary figures, .npy arrays, manifest.json and summary.json.
#include "explaind/exports.hpp"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tensor/atomic_file.hpp"
#include "tensor/json_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/npy.hpp"

namespace pathgrad::explaind {
namespace K = kernel;
using json = nlohmann::json;

namespace {
double max_abs(const Tensor& t) { return t.numel() ? K::amax(K::abs(t)).item() : 0.0; }
double mean_abs(const Tensor& t) { return t.numel() ? K::mean(K::abs(t)).item() : 0.0; }
}  // namespace

Summary summarize(const PathKernel& k) {
  Summary s;
  s.steps = k.steps();
  const Tensor real = k.final_values(), replica = k.replica();
  const Tensor total = K::sub(real, k.initial_values());
  s.replica_max_abs_error = max_abs(K::sub(replica, real));
  s.replica_mean_abs_error = mean_abs(K::sub(replica, real));
  s.output_scale = mean_abs(real);
  s.change_scale = mean_abs(total);
  s.residual_max = max_abs(k.residual_max());
  s.residual_abs_sum_max = max_abs(k.residual_abs_sum());
  s.linear_form_mismatch = k.worst_linear_form_mismatch();
  s.gradient_evaluations = k.gradient_evaluations();
  s.forward_evaluations = k.forward_evaluations();
  s.deepest_refinement = k.deepest_refinement();
  const double scale = std::max(s.output_scale, 1e-300);

  // Marginals: per-tensor components (+ residual) and samples (+ decay + residual) must both
  // add up to the total change of every probe scalar.
  const int64_t n = k.layout().count();
  const Tensor per_tensor =
      K::add(K::sum(K::narrow(k.component_data(), 1, 0, n), {1}), K::sum(K::narrow(k.component_decay(), 1, 0, n), {1}));
  s.marginal_mismatch = max_abs(K::sub(K::add(per_tensor, k.residual_sum()), total)) / scale;
  if (k.sample_data().defined()) {
    std::vector<int64_t> rows;
    for (int64_t m = 0; m < k.probes().size(); ++m)
      if (k.probes().labels()[m].sample_level) rows.push_back(m);
    const Tensor idx = Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())});
    const Tensor samples =
        K::add(K::add(K::sum(k.sample_data(), {1}), k.sample_level_decay()), K::index_select(k.residual_sum(), 0, idx));
    s.marginal_mismatch =
        std::max(s.marginal_mismatch, max_abs(K::sub(samples, K::index_select(total, 0, idx))) / scale);
  }

  // Full output vectors (all_outputs weightings): argmax agreement and KL of the softmaxes.
  const int64_t C = k.probes().num_classes();
  int64_t vectors = 0, agree = 0;
  double kl = 0;
  for (int64_t m = 0; m + C <= k.probes().size(); ++m) {
    if (k.probes().labels()[m].weighting != "output 0") continue;
    const Tensor f = K::log_softmax(K::narrow(real, 0, m, C), 0), r = K::log_softmax(K::narrow(replica, 0, m, C), 0);
    agree += K::argmax(f, 0).item() == K::argmax(r, 0).item() ? 1 : 0;
    kl += K::kl_div_log(f, r, 0).item();
    ++vectors;
  }
  if (vectors) {
    s.argmax_agreement = static_cast<double>(agree) / static_cast<double>(vectors);
    s.mean_kl = kl / static_cast<double>(vectors);
  }
  return s;
}

void write_exports(const std::string& dir, const PathKernel& k, const Summary& s, const Cost& cost) {
  json arrays = json::object();
  auto put = [&](const std::string& name, const Tensor& t, std::vector<std::string> axes, const std::string& what) {
    if (!t.defined()) return;
    save_npy(dir + "/" + name + ".npy", t);
    arrays[name] = {{"file", name + ".npy"}, {"axes", axes}, {"description", what}};
  };
  auto streamed = [&](const std::string& name, std::vector<std::string> axes, const std::string& what) {
    arrays[name] = {{"file", name + ".npy"}, {"axes", axes}, {"description", what}};
  };
  put("initial_outputs", k.initial_values(), {"probe_scalar"}, "F(theta_0)");
  put("real_outputs", k.final_values(), {"probe_scalar"}, "F(theta_S), the trained model");
  put("replica", k.replica(), {"probe_scalar"}, "the kernel machine: F(theta_0) + sum_s phi_s . delta_s");
  put("data_total", k.data_total(), {"probe_scalar"}, "sum_s phi_s . (delta_s - R_s): the data part");
  put("decay_total", k.decay_total(), {"probe_scalar"}, "sum_s phi_s . R_s: the weight-decay part");
  put("residual_sum", k.residual_sum(), {"probe_scalar"}, "sum_s rho_s");
  put("residual_abs_sum", k.residual_abs_sum(), {"probe_scalar"}, "sum_s |rho_s|");
  put("residual_max", k.residual_max(), {"probe_scalar"}, "max_s |rho_s|");
  put("component_data", k.component_data(), {"probe_scalar", "component"}, "data part per component");
  put("component_decay", k.component_decay(), {"probe_scalar", "component"}, "weight-decay part per component");
  streamed("step_influence", {"step", "probe_scalar"}, "phi_s . delta_s per step (data + weight decay)");
  streamed("residuals", {"step", "probe_scalar"}, "rho_s per step");
  streamed("component_window_data", {"window", "probe_scalar", "component"}, "data part per component and window");
  streamed("component_window_decay", {"window", "probe_scalar", "component"},
           "weight-decay part per component and window");
  if (k.sample_data().defined()) {
    put("sample_data", k.sample_data(), {"sample_level_probe", "training_sample"},
        "data influence of each training sample (kernel machine term)");
    put("sample_decay", k.sample_level_decay(), {"sample_level_probe"}, "weight-decay part of sample-level probes");
    streamed("sample_window_data", {"window", "sample_level_probe", "training_sample"},
             "data influence per training sample and window");
    put("sample_component_data", k.sample_component_data(), {"component", "sample_level_probe", "training_sample"},
        "data influence per component and training sample");
  }
  if (k.parameter_data().defined()) {
    put("parameter_data", k.parameter_data(), {"sample_level_probe", "parameter"}, "data part per parameter (flat)");
    put("parameter_decay", k.parameter_decay(), {"sample_level_probe", "parameter"},
        "weight-decay part per parameter (flat)");
    if (k.config().options.parameter_windows())
      streamed("parameter_window_data", {"window", "sample_level_probe", "parameter"},
               "data part per parameter (flat) and window");
  }

  json probes = json::array(), sample_rows = json::array();
  for (int64_t m = 0; m < k.probes().size(); ++m) {
    const auto& l = k.probes().labels()[m];
    probes.push_back({{"set", l.set}, {"id", l.id}, {"weighting", l.weighting}, {"sample_level", l.sample_level}});
    if (l.sample_level) sample_rows.push_back(m);
  }
  json comps = json::array();
  for (const ResolvedComponent& c : k.components()) {
    json ranges = json::array();
    for (const auto& [b, e] : c.ranges) ranges.push_back({b, e});
    comps.push_back({{"name", c.name}, {"size", c.size()}, {"ranges", ranges}});
  }
  json params = json::array();
  for (int64_t p = 0; p < k.layout().count(); ++p)
    params.push_back({{"name", k.layout().name(p)}, {"shape", k.layout().shape(p)}, {"offset", k.layout().offset(p)}});
  json windows = json::array();
  for (const auto& [b, e] : k.windows()) windows.push_back({b, e});
  const json manifest = {{"format", "pathgrad-explaind/1"},
                         {"steps", k.steps()},
                         {"quadrature", k.config().options.rule().name},
                         {"adaptive", k.config().options.adaptive()},
                         {"tolerance", k.config().options.tolerance()},
                         {"axes",
                          {{"probe_scalar", probes},
                           {"sample_level_probe", sample_rows},
                           {"component", comps},
                           {"parameter", params},
                           {"window", windows},
                           {"training_sample",
                            {{"count", k.config().options.per_sample() ? k.config().num_samples : 0},
                             {"ids", "training-set indices 0..count-1 (the data loader's batch.ids)"}}},
                           {"step", {{"count", k.steps()}}}}},
                         {"arrays", arrays}};
  write_file_atomically(dir + "/manifest.json", manifest.dump(1));

  const json summary = {{"steps", s.steps},
                        {"replica",
                         {{"max_abs_error", s.replica_max_abs_error},
                          {"mean_abs_error", s.replica_mean_abs_error},
                          {"output_scale", s.output_scale},
                          {"change_scale", s.change_scale},
                          {"argmax_agreement", s.argmax_agreement},
                          {"mean_kl", s.mean_kl}}},
                        {"residual", {{"max_per_step", s.residual_max}, {"max_abs_sum", s.residual_abs_sum_max}}},
                        {"marginal_mismatch", s.marginal_mismatch},
                        {"linear_form_mismatch", s.linear_form_mismatch},
                        {"cost_spent",
                         {{"gradient_evaluations", s.gradient_evaluations},
                          {"forward_evaluations", s.forward_evaluations},
                          {"deepest_refinement", s.deepest_refinement},
                          {"tracking_seconds", s.tracking_seconds},
                          {"sample_level_seconds", s.sample_level_seconds},
                          {"peak_tensor_bytes", s.peak_tensor_bytes}}},
                        {"cost_estimate",
                         {{"memory_bytes", cost.memory_bytes},
                          {"buffer_bytes", cost.buffer_bytes},
                          {"nodes_per_step", cost.nodes_per_step},
                          {"probe_gradients_per_step", cost.probe_gradients_per_step},
                          {"sample_gradients_per_step", cost.sample_gradients_per_step},
                          {"kernel_flops_per_step", cost.kernel_flops_per_step}}}};
  write_file_atomically(dir + "/summary.json", summary.dump(1));
}

Summary read_summary(const std::string& dir) {
  const std::string path = dir + "/summary.json";
  const json j = read_json_file(path);
  auto number = [&](const char* section, const char* field) {
    try {
      const json& v = section[0] ? j.at(section).at(field) : j.at(field);
      if (!v.is_number()) throw std::runtime_error("not a number");
      return v.get<double>();
    } catch (const std::exception& e) {
      throw std::runtime_error(
          fmt::format("{}: field '{}{}{}': {}", path, section, section[0] ? "." : "", field, e.what()));
    }
  };
  Summary s;
  s.steps = static_cast<int64_t>(number("", "steps"));
  s.replica_max_abs_error = number("replica", "max_abs_error");
  s.replica_mean_abs_error = number("replica", "mean_abs_error");
  s.output_scale = number("replica", "output_scale");
  s.change_scale = number("replica", "change_scale");
  s.argmax_agreement = number("replica", "argmax_agreement");
  s.mean_kl = number("replica", "mean_kl");
  s.residual_max = number("residual", "max_per_step");
  s.residual_abs_sum_max = number("residual", "max_abs_sum");
  s.marginal_mismatch = number("", "marginal_mismatch");
  s.linear_form_mismatch = number("", "linear_form_mismatch");
  s.gradient_evaluations = static_cast<int64_t>(number("cost_spent", "gradient_evaluations"));
  s.deepest_refinement = static_cast<int>(number("cost_spent", "deepest_refinement"));
  s.tracking_seconds = number("cost_spent", "tracking_seconds");
  // Figures recorded later than the others: 0 in summaries written before them.
  auto later = [&](const char* field) {
    return j.contains("cost_spent") && j["cost_spent"].contains(field) ? number("cost_spent", field) : 0.0;
  };
  s.sample_level_seconds = later("sample_level_seconds");
  s.peak_tensor_bytes = later("peak_tensor_bytes");
  s.forward_evaluations = static_cast<int64_t>(later("forward_evaluations"));
  return s;
}

}  // namespace pathgrad::explaind
