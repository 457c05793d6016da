// The pruning experiment of the CIFAR-2 example (the paper's protocol): score every weight,
// keep the top fraction globally (one shot; the final Linear is never pruned), and measure what
// the pruned model still does on images the scores never saw.
//
// Scores, each a float64 [P] over the flat parameter vector (the optimizer's order):
//   epk        Imp(p) = Σ_x Σ_c |PK(x, c, p)|, PK the data part of the path kernel's
//              parameter-wise influence Σ_s φ̂_s(x, c)_p (Δθ_s − R_s)_p over the whole run, for
//              the importance images x and both classes c (the importance tracker's
//              parameter_data; the weight-decay part left out, the absolute value taken after
//              the sum over steps)
//   magnitude  |θ_p| of the trained model
//   grad_x_weight |θ_p · ∂L/∂θ_p|, L the mean NLL of the importance images at the trained model
//   random     uniform noise, one score per seed
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "examples/cifar2/model.hpp"
#include "explaind/param_layout.hpp"
#include "nn/data/image_set.hpp"

namespace pathgrad::cifar2 {

struct PruningScore {
  std::string name;   // "epk", "magnitude", "grad_x_weight", "random"
  int64_t seed = -1;  // random scores only
  Tensor score;       // float64 [P]
};

// The scores above. `epk` is the EPK score over the model's flat parameters (float64 [P]: see
// epk_score in importance_chunks.hpp, std::invalid_argument for another shape); `importance` are
// the images it was computed on. The model is left as it was (its .grad undefined).
std::vector<PruningScore> pruning_scores(ResNet9& model, const Tensor& epk, const nn::data::ImageSet& importance,
                                         int random_seeds);

// The prunable weights (all but head.weight) by descending score, ties by the lower flat index.
std::vector<int64_t> prune_order(const explaind::ParamLayout& layout, const Tensor& score);
// float64 [P]: 1 for the first `kept` weights of `order` and for every weight never pruned, else 0.
Tensor keep_mask(const explaind::ParamLayout& layout, const std::vector<int64_t>& order, int64_t kept);

// The paper's grid of kept fractions: 0.1 % to 30 % of the prunable weights, finer at the small end.
std::vector<double> kept_fractions();

// One pruned model: the top `kept` prunable weights by `score` kept (ties: the lower index),
// every other prunable weight set to 0, head.weight untouched; evaluated on the evaluation images
// against the unpruned model.
struct PruningPoint {
  std::string score;
  int64_t seed = -1;
  double kept_fraction = 0;  // of the prunable weights
  int64_t kept = 0;
  double accuracy = 0;   // against the labels
  double agreement = 0;  // fraction of images where the pruned model predicts what the unpruned does
  double kl = 0;         // mean KL(unpruned ‖ pruned) of the class distributions
};

// Every score at every kept fraction, on `eval` images. The model's weights are restored afterwards.
std::vector<PruningPoint> prune_and_evaluate(ResNet9& model, const std::vector<PruningScore>& scores,
                                             const std::vector<double>& fractions, const nn::data::ImageSet& eval);

// The unpruned model on the evaluation images, for the report's reference line.
struct Unpruned {
  int64_t prunable = 0, total = 0;  // weights
  double accuracy = 0;
};
Unpruned unpruned_reference(ResNet9& model, const nn::data::ImageSet& eval);

}  // namespace pathgrad::cifar2
