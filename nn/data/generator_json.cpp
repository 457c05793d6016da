// Generator::State <-> JSON.
#include "nn/data/generator_json.hpp"

#include <stdexcept>
#include <string>

#include "tensor/json_file.hpp"

namespace pathgrad::nn::data {

nlohmann::json generator_state_to_json(const Generator::State& state) {
  return {{"s", state.s}, {"has_spare", state.has_spare}, {"spare", state.spare}};
}

Generator::State generator_state_from_json(const nlohmann::json& j) {
  Generator::State state{};
  try {
    const nlohmann::json& s = j.at("s");
    if (!s.is_array() || s.size() != state.s.size())
      throw std::invalid_argument("generator state: field \"s\" must hold 4 unsigned 64-bit integers, found " +
                                  s.dump());
    for (size_t i = 0; i < state.s.size(); ++i) state.s[i] = json_uint64(s[i], "s[" + std::to_string(i) + "]");
    state.has_spare = j.at("has_spare").get<bool>();
    state.spare = j.at("spare").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("generator state: ") + e.what());
  }
  return state;
}

}  // namespace pathgrad::nn::data
