// save_weights / load_weights: Module state dicts through tensor/safetensors.
#include "nn/serialize.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "tensor/safetensors.hpp"

namespace pathgrad::nn {

void save_weights(const Module& module, const std::string& path) {
  save_safetensors(path, module.state_dict(), {{"format", "pathgrad"}, {"module", module.name()}});
}

void load_weights(Module& module, const std::string& path, bool strict) {
  const SafetensorsContents contents = load_safetensors(path);
  try {
    module.load_state_dict(contents.tensors, strict);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("load_weights: {}: {}", path, e.what()));
  }
}

}  // namespace pathgrad::nn
