// Probe scalars: validation, expansion of weightings into slots, and their evaluation in chunks
// (values, contracted gradients, full gradients).
#include "explaind/probes.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "autograd/ops.hpp"

namespace pathgrad::explaind {

OutputWeighting OutputWeighting::label() { return {Kind::Label, -1, {}}; }
OutputWeighting OutputWeighting::all_outputs() { return {Kind::AllOutputs, -1, {}}; }
OutputWeighting OutputWeighting::of_class(int64_t c) { return {Kind::Class, c, {}}; }
OutputWeighting OutputWeighting::custom(std::vector<double> w) { return {Kind::Custom, -1, std::move(w)}; }
OutputWeighting OutputWeighting::loss() { return {Kind::Loss, -1, {}}; }

std::string OutputWeighting::describe(int64_t slot) const {
  switch (kind) {
    case Kind::Label:
      return "label";
    case Kind::AllOutputs:
      return fmt::format("output {}", slot);
    case Kind::Class:
      return fmt::format("class {}", cls);
    case Kind::Custom:
      return "custom";
    case Kind::Loss:
      return "loss";
  }
  return "?";
}

ProbeScalars::ProbeScalars(std::vector<ProbeSet> sets, int64_t num_classes)
    : sets_(std::move(sets)), num_classes_(num_classes) {
  for (ProbeSet& s : sets_) {
    if (!s.x.defined() || s.x.dim() < 1 || s.x.size(0) == 0)
      throw std::invalid_argument(fmt::format("probe set '{}': no inputs", s.name));
    const int64_t m = s.x.size(0);
    if (s.weightings.empty()) {
      if (!s.y.defined())
        throw std::invalid_argument(fmt::format("probe set '{}': give labels or output weightings", s.name));
      s.weightings = {OutputWeighting::label()};
    }
    bool needs_labels = false;
    for (const OutputWeighting& w : s.weightings) {
      needs_labels = needs_labels || w.kind == OutputWeighting::Kind::Label || w.kind == OutputWeighting::Kind::Loss;
      if (w.kind == OutputWeighting::Kind::Class && (w.cls < 0 || w.cls >= num_classes))
        throw std::invalid_argument(
            fmt::format("probe set '{}': class {} outside the model's {} outputs", s.name, w.cls, num_classes));
      if (w.kind == OutputWeighting::Kind::Custom && static_cast<int64_t>(w.weights.size()) != num_classes)
        throw std::invalid_argument(fmt::format("probe set '{}': custom weighting has {} weights for {} outputs",
                                                s.name, w.weights.size(), num_classes));
    }
    if (needs_labels) {
      if (!s.y.defined() || s.y.dtype() != DType::Int64 || s.y.shape() != Shape{m})
        throw std::invalid_argument(fmt::format("probe set '{}': labels must be int64 [{}]", s.name, m));
      for (double v : s.y.to_vector())
        if (v < 0 || v >= static_cast<double>(num_classes))
          throw std::invalid_argument(fmt::format("probe set '{}': label {} outside [0, {})", s.name, v, num_classes));
    }
    if (s.ids.empty())
      for (int64_t j = 0; j < m; ++j) s.ids.push_back(j);
    if (static_cast<int64_t>(s.ids.size()) != m)
      throw std::invalid_argument(fmt::format("probe set '{}': {} ids for {} inputs", s.name, s.ids.size(), m));
    const std::vector<Slot> sl = slots(s);
    first_scalar_.push_back(total_);
    first_sample_row_.push_back(s.sample_level ? sample_level_size() : -1);
    for (int64_t j = 0; j < m; ++j)
      for (const Slot& slot : sl)
        labels_.push_back({s.name, s.ids[j], slot.weighting->describe(slot.index), s.sample_level});
    total_ += m * static_cast<int64_t>(sl.size());
  }
}

int64_t ProbeScalars::sample_level_size() const {
  int64_t n = 0;
  for (const Label& l : labels_) n += l.sample_level ? 1 : 0;
  return n;
}

std::vector<ProbeScalars::Slot> ProbeScalars::slots(const ProbeSet& set) const {
  std::vector<Slot> out;
  for (const OutputWeighting& w : set.weightings) {
    if (w.kind == OutputWeighting::Kind::AllOutputs)
      for (int64_t c = 0; c < num_classes_; ++c) out.push_back({&w, c});
    else
      out.push_back({&w, w.cls});
  }
  return out;
}

namespace {
// F for one slot: [m] from outputs [m, C].
Tensor slot_value(const OutputWeighting& w, int64_t index, const Tensor& out, const Tensor& y, const LossFn& loss) {
  switch (w.kind) {
    case OutputWeighting::Kind::Label:
      return reshape(gather(out, 1, kernel::unsqueeze(y, 1)), {out.size(0)});
    case OutputWeighting::Kind::AllOutputs:
    case OutputWeighting::Kind::Class:
      return select(out, 1, index);
    case OutputWeighting::Kind::Custom:
      return matmul(out, Tensor::from_vector(w.weights, {static_cast<int64_t>(w.weights.size())}, out.dtype()));
    case OutputWeighting::Kind::Loss: {
      if (!loss) throw std::invalid_argument("probes: the loss weighting needs the tracker's loss function");
      Tensor l = loss(out, y);
      if (l.shape() != Shape{out.size(0)})
        throw std::invalid_argument(
            fmt::format("probes: the loss function returned {} for {} inputs; it must return "
                        "one loss per sample (no reduction)",
                        shape_str(l.shape()), out.size(0)));
      return l;
    }
  }
  throw std::logic_error("probes: unknown weighting");
}

void check_outputs(const Tensor& out, int64_t m, int64_t classes) {
  if (out.shape() != Shape{m, classes})
    throw std::invalid_argument(fmt::format("probes: the model returned {} for {} inputs, expected [{}, {}]",
                                            shape_str(out.shape()), m, m, classes));
}
}  // namespace

std::vector<Tensor> ProbeScalars::slot_values(const ProbeSet& set, const Tensor& out, const Tensor& y,
                                              const LossFn& loss) const {
  std::vector<Tensor> f;
  for (const Slot& sl : slots(set)) f.push_back(slot_value(*sl.weighting, sl.index, out, y, loss));
  return f;
}

Tensor ProbeScalars::row_outputs(size_t set, const ForwardFn& forward, const Tensor& ids) const {
  const Tensor out = forward(kernel::index_select(sets_[set].x, 0, ids));
  check_outputs(out, ids.numel(), num_classes_);
  return out;
}

std::vector<Tensor> ProbeScalars::row_scalars(size_t set, const ForwardFn& forward, const LossFn& loss,
                                              const Tensor& ids) const {
  const ProbeSet& s = sets_[set];
  const Tensor y = s.y.defined() ? kernel::index_select(s.y, 0, ids) : Tensor();
  return slot_values(s, row_outputs(set, forward, ids), y, loss);
}

Tensor ProbeScalars::row_values(size_t set, const ForwardFn& forward, const LossFn& loss, const Tensor& ids) const {
  NoGradGuard no_grad;
  return kernel::stack(row_scalars(set, forward, loss, ids), 1).to(DType::Float64);
}

std::vector<Tensor> ProbeScalars::row_dots(size_t set, const ForwardFn& forward, const LossFn& loss,
                                           const NamedTensors& params,
                                           const std::vector<std::vector<Tensor>>& directions,
                                           const Tensor& ids) const {
  std::vector<Tensor> leaves;
  for (const auto& [name, p] : params) leaves.push_back(p);
  const int64_t R = ids.numel(), K = num_slots(set);
  const std::vector<Tensor> f = row_scalars(set, forward, loss, ids);
  std::vector<Tensor> out;
  for (const auto& dirs : directions)
    out.push_back(Tensor::zeros({R, K, static_cast<int64_t>(dirs.size())}, DType::Float64));
  for (int64_t k = 0; k < K; ++k) {
    const std::vector<Tensor> r = per_sample_grad_dot(f[k], leaves, directions, Tensor(), k + 1 < K);
    for (size_t p = 0; p < leaves.size(); ++p) kernel::squeeze(kernel::narrow(out[p], 1, k, 1), 1).copy_(r[p]);
  }
  return out;
}

Tensor ProbeScalars::row_gradients(size_t set, const ForwardFn& forward, const LossFn& loss, const NamedTensors& params,
                                   const ParamLayout& layout, const Tensor& ids, const Tensor& seeds,
                                   int64_t rows_per_sample) const {
  std::vector<Tensor> leaves;
  for (const auto& [name, p] : params) leaves.push_back(p);
  const int64_t G = ids.numel() / rows_per_sample, K = num_slots(set);
  const std::vector<Tensor> f = row_scalars(set, forward, loss, ids);
  Tensor out = Tensor::empty({G, K, layout.size()}, DType::Float64);  // the segments cover every entry
  for (int64_t k = 0; k < K; ++k) {
    const std::vector<Tensor> g = per_sample_grad(f[k], leaves, seeds, k + 1 < K, rows_per_sample);
    const Tensor groups = kernel::squeeze(kernel::narrow(out, 1, k, 1), 1);  // [G, P]
    for (size_t p = 0; p < leaves.size(); ++p)
      layout.segment(groups, static_cast<int64_t>(p)).copy_(kernel::reshape(g[p], {G, -1}));
  }
  return out;
}

}  // namespace pathgrad::explaind
