// JSON form of a Generator's state, for checkpoints of the loader and of random augmentations.
//
// {"s": [four unsigned 64-bit words], "has_spare": bool, "spare": double}. nlohmann-json keeps
// unsigned 64-bit integers and doubles exactly, so a restored generator continues the same stream.
#pragma once

#include <nlohmann/json.hpp>

#include "tensor/random.hpp"

namespace pathgrad::nn::data {

nlohmann::json generator_state_to_json(const Generator::State& state);
// Throws std::invalid_argument naming the missing or mistyped field.
Generator::State generator_state_from_json(const nlohmann::json& j);

}  // namespace pathgrad::nn::data
