// Proponent and opponent grids, class totals and their CSV.
#include "examples/cifar2/influence_report.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "examples/cifar2/data_influence.hpp"
#include "examples/common/figure_ref.hpp"
#include "explaind/report/csv.hpp"
#include "explaind/report/image_grid.hpp"

namespace pathgrad::cifar2 {

namespace {

constexpr int64_t kShown = 8;  // proponents and opponents shown per probe image
const char* const kClassNames[2] = {"cat", "dog"};

void write_csv(const RunDir& dir, const std::vector<Influencers>& all) {
  explaind::report::CsvTable t({"probe", "probe_label", "kind", "rank", "train_index", "influence"});
  for (const Influencers& inf : all)
    for (size_t r = 0; r < inf.proponents.size(); ++r) {
      t.add_row({inf.probe, inf.label, std::string("proponent"), static_cast<int64_t>(r + 1), inf.proponents[r],
                 inf.proponent_influence[r]});
      t.add_row({inf.probe, inf.label, std::string("opponent"), static_cast<int64_t>(r + 1), inf.opponents[r],
                 inf.opponent_influence[r]});
    }
  t.write(dir.analysis_csv("proponents"));
}

// Row 1: the test image, then its proponents; row 2: a blank cell, then its opponents.
examples::FigureRef plot_influencers(const RunDir& dir, const Influencers& inf, const nn::data::ImageSet& test,
                                     const nn::data::ImageSet& train) {
  const std::vector<double> labels = train.labels.to_vector();
  auto caption = [&](int64_t i, double v) {
    return fmt::format("#{} {}\n{:+.2e}", i, kClassNames[labels[i] > 0.5 ? 1 : 0], v);
  };
  explaind::report::ImageGrid grid;
  grid.title(fmt::format("Test image {} ({}): proponents (top row) and opponents (bottom row)", inf.probe,
                         kClassNames[inf.label]))
      .columns(static_cast<int>(kShown) + 1);
  grid.add(displayable(test.images, inf.probe), fmt::format("test #{}\n{}", inf.probe, kClassNames[inf.label]));
  for (size_t r = 0; r < inf.proponents.size(); ++r)
    grid.add(displayable(train.images, inf.proponents[r]), caption(inf.proponents[r], inf.proponent_influence[r]));
  grid.add_blank("opponents");
  for (size_t r = 0; r < inf.opponents.size(); ++r)
    grid.add(displayable(train.images, inf.opponents[r]), caption(inf.opponents[r], inf.opponent_influence[r]));
  return examples::render(
      dir, grid, fmt::format("proponents_{}", inf.probe),
      fmt::format("Test image {} (a {}) and the {} training images whose SGD updates raised its log p({}) the most "
                  "(top) and lowered it the most (bottom), with their influence over the whole run (training index, "
                  "class, change of log p). Training images are shown unflipped.",
                  inf.probe, kClassNames[inf.label], kShown, kClassNames[inf.label]));
}

}  // namespace

void data_influence_section(explaind::report::Report& r, const RunDir& dir, const examples::TrackerExports& exports,
                            const explaind::ProbeSet& probes, const nn::data::ImageSet& test,
                            const nn::data::ImageSet& train) {
  const std::vector<Influencers> all = strongest_influencers(exports, probes, train.labels, kShown);
  write_csv(dir, all);
  r.section("Data influence");
  r.paragraph(fmt::format(
      "The kernel machine splits each probe's change over training into one term per training image: what that "
      "image's gradients, carried by SGD's momentum through every later step, did to the probe (the sample level; "
      "the weight-decay part is its own term). Shown for the first {} probe images among all {} training images; "
      "all terms: explaind/sample_data.npy, the strongest: analyses/proponents.csv.",
      all.size(), train.size()));
  std::vector<std::vector<std::string>> rows;
  for (const Influencers& inf : all)
    rows.push_back({std::to_string(inf.probe), kClassNames[inf.label], fmt::format("{:+.4f}", inf.class_total[0]),
                    fmt::format("{:+.4f}", inf.class_total[1])});
  r.table({"test image", "class", "all training cats", "all training dogs"}, rows);
  r.paragraph("Total influence of each training class on the probe's log p(own class).");
  for (const Influencers& inf : all) {
    const examples::FigureRef f = plot_influencers(dir, inf, test, train);
    r.figure(f.path, f.caption);
  }
}

}  // namespace pathgrad::cifar2
