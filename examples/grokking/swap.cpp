// The swap experiment over the interval weights of a grokking run.
#include "examples/grokking/swap.hpp"

#include <algorithm>
#include <filesystem>

#include "autograd/engine.hpp"
#include "examples/grokking/training.hpp"
#include "nn/serialize.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::grokking {

namespace K = kernel;

std::vector<std::string> swapped_parameters() {
  return {"embed.weight", "mlp.fc2.weight", "mlp.fc2.bias", "decoder.weight"};
}

namespace {
// Mean over rows of KL(p || q) for log-probabilities [B, C].
double mean_kl(const Tensor& log_p, const Tensor& log_q) { return K::mean(K::kl_div_log(log_p, log_q, 1)).item(); }

// Interval steps with a weight file, ascending, up to final_step.
std::vector<int64_t> interval_steps(const RunDir& dir, const Config& config, int64_t final_step) {
  std::vector<int64_t> steps;
  for (int64_t s = 0; s <= final_step; s += config.checkpoint_every)
    if (std::filesystem::exists(dir.weights(s))) steps.push_back(s);
  return steps;
}
}  // namespace

SwapResult swap_experiment(const Config& config, const RunDir& dir, const nn::data::ModularData& data,
                           int64_t final_step) {
  NoGradGuard no_grad;
  Transformer final_model(config.model_shape()), model(config.model_shape());
  nn::load_weights(final_model, dir.final_weights());
  const Tensor final_out = final_model.forward(data.val.x);
  NamedTensors outer;
  for (const auto& [name, t] : final_model.state_dict())
    if (std::ranges::count(swapped_parameters(), name)) outer.emplace_back(name, t);

  SwapResult r;
  std::vector<int64_t> steps = interval_steps(dir, config, final_step);
  if (steps.empty() || steps.back() != final_step) steps.push_back(final_step);
  for (int64_t s : steps) {
    nn::load_weights(model, s == final_step ? dir.final_weights() : dir.weights(s));
    r.step.push_back(static_cast<double>(s));
    r.own_accuracy.push_back(accuracy(model.forward(data.val.x), data.val.y));
    model.load_state_dict(outer, /*strict=*/false);
    const Tensor out = model.forward(data.val.x);
    r.accuracy.push_back(accuracy(out, data.val.y));
    r.kl.push_back(mean_kl(final_out, out));
  }
  return r;
}

}  // namespace pathgrad::grokking
