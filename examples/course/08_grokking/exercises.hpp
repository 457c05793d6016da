// Lesson 8, grokking: exercises. Each reads a finished run's files the way a learner would with
// numpy, and recomputes a figure of its report; the reference solutions are in solutions.cpp,
// checked by tests/course/test_08_grokking.cpp against summary.json and analyses/*.csv.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pathgrad::course {

// Exercise 1 — the replica check.
// From <explaind>/initial_outputs.npy, real_outputs.npy and replica.npy (each float64 [M], one
// entry per probe scalar) compute the report's first four figures: the largest and the mean
// |replica − real|, the output scale mean |real| and the change scale mean |real − initial|.
struct ReplicaFigures {
  double max_abs_error = 0, mean_abs_error = 0, output_scale = 0, change_scale = 0;
};
ReplicaFigures replica_figures(const std::string& explaind_dir);

// Exercise 2 — a component's influence per window.
// The report's "Component influence" curves are, for one component, the mean over the validation
// probe scalars (manifest.json axes.probe_scalar entries whose "set" is "val" or
// "val_sample_level") of component_window_data.npy and component_window_decay.npy
// ([window, probe_scalar, component]); the component's index is its position in
// axes.component. Return one (data, decay) pair per window. Throws std::invalid_argument for an
// unknown component name.
struct WindowShare {
  double data = 0, decay = 0;
};
std::vector<WindowShare> component_windows(const std::string& explaind_dir, const std::string& component);

// Exercise 3 — the milestones.
// From <run>/metrics.csv (columns step, train_loss, train_accuracy, val_loss, val_accuracy;
// accuracies as fractions) return the first step whose training accuracy is >= 0.99
// (memorisation) and the first whose validation accuracy is >= 0.99 (generalisation); empty
// when never reached.
struct Milestones {
  std::optional<int64_t> memorisation, generalisation;
};
Milestones milestones(const std::string& run_dir);

}  // namespace pathgrad::course
