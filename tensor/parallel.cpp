// The thread pool behind parallel_for, and the one thread setting shared with OpenBLAS.
#include "tensor/parallel.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace pathgrad {
namespace {

thread_local bool t_in_parallel = false;  // inside a chunk: nested loops run inline

// One parallel_for call. Workers hold it by shared_ptr, so one that wakes late and finds every
// chunk taken touches only this object, never a later call's.
struct Job {
  const std::function<void(int64_t, int64_t)>* f = nullptr;
  int64_t n = 0, chunks = 0, chunk_size = 0;
  std::atomic<int64_t> next{0};       // the next chunk to claim
  std::atomic<int64_t> remaining{0};  // chunks not finished yet
  std::mutex error_mutex;
  std::exception_ptr error;

  // Claims and runs chunks until none is left.
  void work() {
    for (int64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) {
      const int64_t begin = c * chunk_size, end = std::min(n, begin + chunk_size);
      try {
        (*f)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
      if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) remaining.notify_all();
    }
  }
};

class Pool {
 public:
  // Takes over OpenBLAS's thread count; OpenBLAS itself then runs single-threaded.
  Pool() {
    const int threads = std::max(1, openblas_get_num_threads());
    openblas_set_num_threads(1);
    resize(threads);
  }
  ~Pool() { stop_workers(); }

  int size() const { return threads_; }

  void resize(int threads) {
    std::lock_guard<std::mutex> submit(submit_mutex_);
    stop_workers();
    threads_ = threads;
    stop_ = false;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker(); });
  }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
    const int64_t chunks = std::min<int64_t>(threads_, (n + grain - 1) / std::max<int64_t>(grain, 1));
    // One call at a time uses the workers; a concurrent call from another thread runs inline.
    std::unique_lock<std::mutex> submit(submit_mutex_, std::try_to_lock);
    if (chunks <= 1 || t_in_parallel || !submit.owns_lock()) {
      if (n > 0) f(0, n);
      return;
    }
    auto job = std::make_shared<Job>();
    job->f = &f;
    job->n = n;
    job->chunks = chunks;
    job->chunk_size = (n + chunks - 1) / chunks;
    job->remaining = chunks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = job;
      ++generation_;
    }
    wake_.notify_all();
    t_in_parallel = true;
    job->work();
    t_in_parallel = false;
    for (int64_t left = job->remaining.load(); left > 0; left = job->remaining.load()) job->remaining.wait(left);
    if (job->error) std::rethrow_exception(job->error);
  }

 private:
  void worker() {
    t_in_parallel = true;
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      job->work();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  std::mutex submit_mutex_;
  std::mutex mutex_;  // guards job_, generation_, stop_
  std::condition_variable wake_;
  std::shared_ptr<Job> job_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  int threads_ = 1;
  std::vector<std::thread> workers_;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument(fmt::format("set_num_threads: need at least 1 thread, got {}", n));
  if (n != pool().size()) pool().resize(n);
  openblas_set_num_threads(1);
}

int num_threads() { return pool().size(); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) { pool().run(n, grain, f); }

}  // namespace pathgrad
