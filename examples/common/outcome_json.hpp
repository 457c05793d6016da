// The training state an example keeps in its resume checkpoint (optim::save_checkpoint's
// extra): {"metrics": <the metrics' JSON>, "seconds": <training time so far>}.
#pragma once

#include <nlohmann/json.hpp>

namespace pathgrad::examples {

// Outcome: a struct with `metrics` (to_json() and static from_json()) and `seconds`.
template <class Outcome>
nlohmann::json outcome_json(const Outcome& o) {
  return {{"metrics", o.metrics.to_json()}, {"seconds", o.seconds}};
}

// The outcome back from outcome_json; throws (nlohmann or the metrics' std::invalid_argument)
// when a field is missing or malformed.
template <class Outcome>
Outcome outcome_from(const nlohmann::json& j) {
  Outcome o;
  o.metrics = decltype(o.metrics)::from_json(j.at("metrics"));
  o.seconds = j.at("seconds").template get<double>();
  return o;
}

}  // namespace pathgrad::examples
