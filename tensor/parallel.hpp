// pathgrad's threads: one setting for OpenBLAS and for the framework's own loops (elementwise
// ops, reductions, im2col/col2im, pooling), and the parallel_for those loops run on.
//
// Every parallel loop of pathgrad's own splits work over *outputs* and keeps each output's order of
// operations, so its results are bit-identical whatever the thread count. Matrix products split
// over threads are the exception: OpenBLAS chooses its kernels by block size, so their last bits
// may change with the thread count (they are reproducible for a given count).
#pragma once

#include <cstdint>
#include <functional>

namespace pathgrad {

// Sets the threads used by OpenBLAS and by pathgrad's own loops (n >= 1; std::invalid_argument
// otherwise). The default is OpenBLAS's own count at start-up: OPENBLAS_NUM_THREADS when set,
// else the number of cores.
void set_num_threads(int n);
int num_threads();

// Calls f(begin, end) on consecutive chunks that cover [0, n) exactly once, on up to
// num_threads() threads at the same time (the calling thread takes a chunk too). A chunk holds at
// least `grain` items, so small ranges run inline on the calling thread, as does a parallel_for
// called from inside another one. f must be safe to run concurrently on disjoint ranges. The
// first exception f throws is rethrown in the caller once every chunk has finished.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

// Items per chunk worth a thread for loops that touch a few bytes per item: below this, waking a
// thread costs more than it saves.
inline constexpr int64_t kParallelGrain = 32768;

}  // namespace pathgrad
