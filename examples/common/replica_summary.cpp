// The replica-check paragraph and table of a run report.
#include "examples/common/replica_summary.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

namespace pathgrad::examples {

void add_replica_summary(explaind::report::Report& r, const explaind::Summary& s, const std::string& output_scale_name,
                         const std::string& all_outputs_hint) {
  r.paragraph(
      "The tracker decomposes every probe's change over training exactly into per-step terms phi_s . delta_s "
      "(path-kernel.md). Their sum from the initial model is the kernel machine (the replica); it matches the "
      "trained model up to the residuals of the numerical path integral, reported as their own term.");
  r.key_values({{"replica max |error|", fmt::format("{:.3g}", s.replica_max_abs_error)},
                {"replica mean |error|", fmt::format("{:.3g}", s.replica_mean_abs_error)},
                {fmt::format("output scale ({})", output_scale_name), fmt::format("{:.3g}", s.output_scale)},
                {"max error / output scale", fmt::format("{:.3g}", s.replica_max_abs_error / s.output_scale)},
                {"mean change over training (mean |F(theta_S) - F(theta_0)|)", fmt::format("{:.3g}", s.change_scale)},
                {"max error / mean change", fmt::format("{:.3g}", s.replica_max_abs_error / s.change_scale)},
                {"largest per-step residual", fmt::format("{:.3g}", s.residual_max)},
                {"largest sum of |residuals| of a probe", fmt::format("{:.3g}", s.residual_abs_sum_max)},
                {"marginal mismatch (relative)", fmt::format("{:.3g}", s.marginal_mismatch)},
                {"argmax agreement (probes on all outputs)",
                 s.argmax_agreement >= 0 ? fmt::format("{:.4g} %", 100 * s.argmax_agreement) : all_outputs_hint},
                {"mean KL(model || replica) (probes on all outputs)",
                 s.mean_kl >= 0 ? fmt::format("{:.3g}", s.mean_kl) : all_outputs_hint},
                {"linear-form mismatch (relative)", fmt::format("{:.3g}", s.linear_form_mismatch)},
                {"gradient evaluations", std::to_string(s.gradient_evaluations)},
                {"forward evaluations (crossing search, piece ends)", std::to_string(s.forward_evaluations)},
                {"deepest refinement", std::to_string(s.deepest_refinement)},
                {"tracking time", fmt::format("{:.0f} s", s.tracking_seconds)},
                {"of which the sample level", fmt::format("{:.0f} s", s.sample_level_seconds)},
                {"most tensor memory at once in a tracked step (this session)",
                 fmt::format("{:.2f} GB", s.peak_tensor_bytes / 1e9)}});
}

std::string memory_line(const explaind::Summary& s, const explaind::Cost& stated) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);  // ru_maxrss in KiB on Linux
  return fmt::format(
      "memory: tensors held at most {:.2f} GB in a tracked step, the process {:.2f} GB at its peak (stated before "
      "training: {:.2f} GB held by the tracker)\n",
      s.peak_tensor_bytes / 1e9, static_cast<double>(usage.ru_maxrss) * 1024 / 1e9, stated.memory_bytes / 1e9);
}

}  // namespace pathgrad::examples
