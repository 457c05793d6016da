// The training state an example keeps in its resume checkpoint (optim::save_checkpoint's
// extra): {"metrics": <the metrics' JSON>, "seconds": <training time so far>,
// "checkpoint_seconds": <of which writing checkpoints>}.
#pragma once

#include <nlohmann/json.hpp>

namespace pathgrad::examples {

// Outcome: a struct with `metrics` (to_json() and static from_json()), `seconds` and
// `checkpoint_seconds`.
template <class Outcome>
nlohmann::json outcome_json(const Outcome& o) {
  return {{"metrics", o.metrics.to_json()}, {"seconds", o.seconds}, {"checkpoint_seconds", o.checkpoint_seconds}};
}

// The outcome back from outcome_json; throws (nlohmann or the metrics' std::invalid_argument)
// when a field is missing or malformed.
template <class Outcome>
Outcome outcome_from(const nlohmann::json& j) {
  Outcome o;
  o.metrics = decltype(o.metrics)::from_json(j.at("metrics"));
  o.seconds = j.at("seconds").template get<double>();
  if (j.contains("checkpoint_seconds"))  // checkpoints written before it was recorded: 0
    o.checkpoint_seconds = j.at("checkpoint_seconds").template get<double>();
  return o;
}

}  // namespace pathgrad::examples
