// The pruning experiment's CSV, curves and report text.
#include "examples/cifar2/pruning_report.hpp"

#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "examples/cifar2/config.hpp"
#include "examples/cifar2/pruning.hpp"
#include "examples/common/figure_ref.hpp"
#include "explaind/param_layout.hpp"
#include "explaind/report/csv.hpp"
#include "explaind/report/plot.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::cifar2 {

namespace {

constexpr int kRandomSeeds = 5;

nn::data::ImageSet rows(const nn::data::ImageSet& set, int64_t begin, int64_t count) {
  return {kernel::narrow(set.images, 0, begin, count).contiguous(),
          kernel::narrow(set.labels, 0, begin, count).contiguous()};
}

void write_csv(const RunDir& dir, const std::vector<PruningPoint>& points) {
  explaind::report::CsvTable t({"score", "seed", "kept_fraction", "kept_weights", "accuracy", "agreement", "kl"});
  for (const PruningPoint& p : points)
    t.add_row({p.score, p.seed, p.kept_fraction, p.kept, p.accuracy, p.agreement, p.kl});
  t.write(dir.analysis_csv("pruning"));
}

// One curve per score over the kept fractions (random: the mean over its seeds) of a metric.
struct Curve {
  std::vector<double> x, y;
};
std::map<std::string, Curve> curves(const std::vector<PruningPoint>& points, double PruningPoint::*metric) {
  std::map<std::string, std::map<double, std::pair<double, int>>> sums;  // score -> fraction -> (sum, n)
  for (const PruningPoint& p : points) {
    auto& [sum, n] = sums[p.score][p.kept_fraction];
    sum += p.*metric;
    ++n;
  }
  std::map<std::string, Curve> out;
  for (const auto& [score, by_fraction] : sums)
    for (const auto& [f, sn] : by_fraction) {
      out[score].x.push_back(100 * f);
      out[score].y.push_back(sn.first / sn.second);
    }
  return out;
}

std::string series_name(const std::string& score) {
  if (score == "epk") return "EPK (path-kernel influence)";
  if (score == "grad_x_weight") return "gradient x weight";
  if (score == "random") return fmt::format("random (mean of {} seeds)", kRandomSeeds);
  return score;
}

explaind::report::LinePlot curve_plot(const std::vector<PruningPoint>& points, double PruningPoint::*metric,
                                      double scale, const std::string& title, const std::string& ylabel) {
  explaind::report::LinePlot plot;
  plot.title(title).xlabel("weights kept (% of the prunable, log scale; pruned = 100 - kept)").ylabel(ylabel).log_x();
  for (auto& [score, c] : curves(points, metric)) {
    for (double& y : c.y) y *= scale;
    plot.add_series(series_name(score), c.x, c.y, explaind::report::SeriesStyle::LinesPoints);
  }
  return plot;
}

std::vector<examples::FigureRef> plot_pruning(const RunDir& dir, const std::vector<PruningPoint>& points,
                                              const Unpruned& unpruned) {
  using examples::render;
  const std::string reference = fmt::format("the unpruned model: {:.1f} %", 100 * unpruned.accuracy);
  const std::vector<double> ends = {100 * kept_fractions().front(), 100 * kept_fractions().back()};
  return {
      render(dir,
             curve_plot(points, &PruningPoint::accuracy, 100, "Accuracy of the pruned models", "accuracy (%)")
                 .add_series("unpruned", ends, {100 * unpruned.accuracy, 100 * unpruned.accuracy})
                 .legend(explaind::report::LegendPosition::BottomRight),
             "pruning_accuracy",
             fmt::format("Test accuracy on the evaluation images against the fraction of prunable weights kept, "
                         "one line per score ({}; 50 % is chance).",
                         reference)),
      render(dir,
             curve_plot(points, &PruningPoint::agreement, 100, "Agreement with the unpruned model",
                        "same prediction as unpruned (%)")
                 .legend(explaind::report::LegendPosition::BottomRight),
             "pruning_agreement",
             "How often the pruned model predicts the class the unpruned model predicts, on the evaluation images."),
      render(dir,
             curve_plot(points, &PruningPoint::kl, 1, "KL(unpruned || pruned)", "mean KL (nats, log scale)")
                 .y_scale(explaind::report::Scale::Log)
                 .legend(explaind::report::LegendPosition::TopRight),
             "pruning_kl",
             "Mean KL divergence from the unpruned model's class distribution to the pruned model's (lower: "
             "closer to the unpruned model).")};
}

}  // namespace

void pruning_section(explaind::report::Report& r, const RunDir& dir, ResNet9& model, const nn::data::ImageSet& test,
                     const ImportanceChunks& chunks, const explaind::Summary& importance) {
  const int64_t importance_images = chunks.images;
  const nn::data::ImageSet scoring = rows(test, 0, importance_images);
  const nn::data::ImageSet eval = rows(test, test.size() - kPruningEvalImages, kPruningEvalImages);
  const std::vector<std::string> names = explaind::ParamLayout(model.named_parameters()).names();
  const std::vector<PruningScore> scores = pruning_scores(model, epk_score(dir, chunks, names), scoring, kRandomSeeds);
  const std::vector<PruningPoint> points = prune_and_evaluate(model, scores, kept_fractions(), eval);
  const Unpruned unpruned = unpruned_reference(model, eval);
  write_csv(dir, points);
  r.section("Pruning");
  r.paragraph(fmt::format(
      "One-shot global pruning of the trained model by four scores (the paper's protocol): the top weights by score "
      "are kept, every other prunable weight is set to 0; the final Linear ({} of {} weights) is never pruned. The "
      "EPK score of a weight is the sum over {} importance test images and both classes of the absolute "
      "parameter-wise path-kernel influence (data part, whole run); gradient x weight uses the same images; the "
      "pruned models are evaluated on the last {} test images, which no score saw. Numbers: analyses/pruning.csv.",
      unpruned.total - unpruned.prunable, unpruned.total, importance_images, kPruningEvalImages));
  r.paragraph(fmt::format(
      "The importance tracker integrates each step with its own rule on one piece, without refinement: its replica "
      "error is {:.3g} against a mean change of {:.3g} of the importance images' log-probabilities ({} probe-gradient "
      "evaluations, {:.0f} s) — enough to rank weights, not an exact account.{}",
      importance.replica_max_abs_error, importance.change_scale, importance.gradient_evaluations,
      importance.tracking_seconds,
      chunks.count() > 1
          ? fmt::format(" The importance images did not fit the memory budget together: they were tracked in {} chunks "
                        "of at most {} images, the first in the training pass, each further one in a rerun of the "
                        "training that ended at bit for bit the same weights (checked).",
                        chunks.count(), chunks.size)
          : std::string()));
  examples::add_figures(r, plot_pruning(dir, points, unpruned));
}

}  // namespace pathgrad::cifar2
