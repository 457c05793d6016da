// The data-influence section of the CIFAR-2 report: for each sample-level probe image, its
// strongest proponents and opponents among the training images as an image grid, the influence
// of the training cats and dogs in total, and analyses/proponents.csv.
#pragma once

#include "examples/cifar2/run_dir.hpp"
#include "examples/common/tracker_exports.hpp"
#include "explaind/probes.hpp"
#include "explaind/report/report.hpp"
#include "nn/data/image_set.hpp"

namespace pathgrad::cifar2 {

void data_influence_section(explaind::report::Report& r, const RunDir& dir, const examples::TrackerExports& exports,
                            const explaind::ProbeSet& probes, const nn::data::ImageSet& test,
                            const nn::data::ImageSet& train);

}  // namespace pathgrad::cifar2
