// Generator::State <-> JSON.
#include "nn/data/generator_json.hpp"

#include <stdexcept>
#include <string>

namespace pathgrad::data {

nlohmann::json generator_state_to_json(const Generator::State& state) {
  return {{"s", state.s}, {"has_spare", state.has_spare}, {"spare", state.spare}};
}

Generator::State generator_state_from_json(const nlohmann::json& j) {
  Generator::State state{};
  try {
    const nlohmann::json& s = j.at("s");
    bool words_ok = s.is_array() && s.size() == state.s.size();
    for (size_t i = 0; words_ok && i < state.s.size(); ++i) words_ok = s[i].is_number_unsigned();
    if (!words_ok)
      throw std::invalid_argument(
          "generator state: field \"s\" must hold 4 unsigned 64-bit integers, found " + s.dump());
    for (size_t i = 0; i < state.s.size(); ++i) state.s[i] = s[i].get<uint64_t>();
    state.has_spare = j.at("has_spare").get<bool>();
    state.spare = j.at("spare").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("generator state: ") + e.what());
  }
  return state;
}

}  // namespace pathgrad::data
