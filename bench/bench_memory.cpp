// This machine's memory bandwidth as pathgrad's own loops see it, for the floors in
// docs/benchmarks.md: float64 arrays far larger than the caches, split over pathgrad's threads
// (parallel_for), three patterns — read (a sum), write (a fill), and read-modify-write
// y += c·x (the per-sample buffers' update: two arrays read, one written). Best of --reps; one
// JSON line per pattern. Bytes count what the loop asks for (a write is one pass, not the
// read-for-ownership the hardware may add).
//
//   ./build/bench/bench_memory --threads 2 --gib 1
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <vector>

#include "bench/workloads.hpp"
#include "tensor/parallel.hpp"

using namespace pathgrad;

int main(int argc, char** argv) {
  CLI::App app("Memory bandwidth of pathgrad's parallel loops: read, write, y += c*x (JSON lines)");
  int threads = 2, reps = 5;
  double gib = 1.0;
  app.add_option("--threads", threads, "threads of pathgrad's loops");
  app.add_option("--gib", gib, "size of each float64 array in GiB (far above the caches)");
  app.add_option("--reps", reps, "timed repetitions; the best counts");
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);

  const auto n = static_cast<int64_t>(gib * (1 << 30) / sizeof(double));
  std::vector<double> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  const int64_t grain = n / threads + 1;              // one chunk per thread
  parallel_for(n, grain, [&](int64_t b, int64_t e) {  // first touch on the threads that use the pages
    for (int64_t i = b; i < e; ++i) x[i] = 1.0, y[i] = 2.0;
  });
  std::vector<double> partial(static_cast<size_t>(threads) + 1, 0.0);
  volatile double sink = 0;
  const double read_s = bench::best_seconds_per_call(
      [&] {
        parallel_for(n, grain, [&](int64_t b, int64_t e) {
          double s0 = 0, s1 = 0, s2 = 0, s3 = 0;  // four chains: the loop waits on memory, not on adds
          int64_t i = b;
          for (; i + 4 <= e; i += 4) s0 += x[i], s1 += x[i + 1], s2 += x[i + 2], s3 += x[i + 3];
          for (; i < e; ++i) s0 += x[i];
          partial[static_cast<size_t>(b * threads / n)] = s0 + s1 + s2 + s3;  // one slot per chunk
        });
        double s = 0;
        for (double v : partial) s += v;
        sink = s;
      },
      0, 1, reps);
  const double write_s = bench::best_seconds_per_call(
      [&] {
        parallel_for(n, grain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) y[i] = 3.0;
        });
      },
      0, 1, reps);
  const double update_s = bench::best_seconds_per_call(
      [&] {
        parallel_for(n, grain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) y[i] += 0.5 * x[i];
        });
      },
      0, 1, reps);
  const double bytes = static_cast<double>(n) * sizeof(double);
  for (const auto& [pattern, passes, s] :
       {std::tuple{"read", 1, read_s}, std::tuple{"write", 1, write_s}, std::tuple{"y += c*x", 3, update_s}})
    std::cout << fmt::format(
        "{{\"pattern\": \"{}\", \"threads\": {}, \"array_gib\": {:.2f}, \"bytes_gb\": {:.2f}, \"seconds\": {:.4f}, "
        "\"gb_per_s\": {:.1f}, \"machine\": \"{}\"}}\n",
        pattern, threads, gib, passes * bytes / 1e9, s, passes * bytes / 1e9 / s, bench::machine_line());
  return sink == -1.0 ? 1 : 0;
}
