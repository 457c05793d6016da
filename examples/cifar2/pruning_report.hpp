// The pruning section of the CIFAR-2 report: runs the experiment (examples/cifar2/pruning.hpp)
// on the trained model and the importance tracker's exports, writes analyses/pruning.csv and the
// accuracy, agreement and KL curves, one line per score.
#pragma once

#include "examples/cifar2/importance_chunks.hpp"
#include "examples/cifar2/model.hpp"
#include "examples/cifar2/run_dir.hpp"
#include "explaind/report/report.hpp"
#include "explaind/summary.hpp"
#include "nn/data/image_set.hpp"

namespace pathgrad::cifar2 {

// `test` is the whole test split: the first chunks.images score, the last kPruningEvalImages
// evaluate; `importance` is the importance trackers' merged summary. The model's weights are
// restored afterwards.
void pruning_section(explaind::report::Report& r, const RunDir& dir, ResNet9& model, const nn::data::ImageSet& test,
                     const ImportanceChunks& chunks, const explaind::Summary& importance);

}  // namespace pathgrad::cifar2
