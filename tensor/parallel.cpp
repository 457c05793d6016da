// The thread pool behind parallel_for, and the one thread setting shared with OpenBLAS.
#include "tensor/parallel.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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

// How long a thread waiting for the next call (a worker) or for the last chunk (the caller) polls
// before it sleeps on a futex. The tracker and the training step issue thousands of small parallel
// loops per second; a futex wake-up per loop costs more than the loop on a virtual machine (13.6 %
// of the grokking tracker's time in the scheduler's interrupt toggling, before the poll). A poll
// that finds nothing costs at most this much CPU per idle period.
constexpr auto kPollTime = std::chrono::microseconds(200);

// Polls `done` until it holds or kPollTime passed; returns whether it held.
template <class Done>
bool poll(const Done& done) {
  const auto until = std::chrono::steady_clock::now() + kPollTime;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (std::chrono::steady_clock::now() >= until) return done();
  }
}

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
    bool sleeping = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = job;
      generation_.fetch_add(1, std::memory_order_release);
      sleeping = sleeping_ > 0;
    }
    if (sleeping) wake_.notify_all();
    t_in_parallel = true;
    job->work();
    t_in_parallel = false;
    poll([&] { return job->remaining.load(std::memory_order_acquire) == 0; });
    for (int64_t left = job->remaining.load(); left > 0; left = job->remaining.load()) job->remaining.wait(left);
    if (job->error) std::rethrow_exception(job->error);
  }

 private:
  void worker() {
    t_in_parallel = true;
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      const auto called = [&] {
        return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
      };
      const bool polled = poll(called);
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!polled) {
          ++sleeping_;
          wake_.wait(lock, called);
          --sleeping_;
        }
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
  std::mutex mutex_;  // guards job_, sleeping_ and the changes of generation_ and stop_
  std::condition_variable wake_;
  std::shared_ptr<Job> job_;
  std::atomic<uint64_t> generation_{0};  // polled without the mutex
  std::atomic<bool> stop_{false};
  int sleeping_ = 0;  // workers waiting on wake_
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
