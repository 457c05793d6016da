// Storage: aligned buffers (huge-page backed when large), and the bounded cache that recycles
// large ones between allocations.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iterator>
#include <list>
#include <mutex>
#include <new>
#include <unordered_map>

#include "tensor/tensor.hpp"

namespace pathgrad {
namespace {

// Freed buffers by capacity, up to storage_cache_max_bytes() in total. When a freed buffer does not
// fit under the bound, the least recently freed ones are returned to the system to make room, so
// the cache follows the working set of the current loop instead of holding on to sizes that are
// no longer asked for (a data set's temporaries, say). A buffer that has to be allocated fresh
// also makes room: live + cached bytes stay within 9/8 of the most ever live, so a loop whose
// sizes drift (a tracker's refined steps) cannot grow the process beyond its largest working set.
// It also counts the live bytes of every Storage, and their peak. Thread-safe: tensors may be
// released on any thread.
class StorageCache {
 public:
  // A cached buffer of `capacity` bytes, or nullptr; either way the bytes count as live from now.
  void* take(std::size_t capacity) {
    const std::size_t live = live_ += capacity;
    raise(peak_, live);
    if (capacity < kStorageCacheMinBytes) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_size_.find(capacity);
    if (it == by_size_.end() || it->second.empty()) {
      // A fresh buffer: keep live + cached within the most ever live and an eighth, so that the
      // cache never makes the process hold much more than its largest working set did. (Without
      // the eighth, a CNN step whose buffers of different sizes are never live together evicted
      // and refetched some of them every step: 7 % slower.)
      const std::size_t most = raise(most_live_, live);
      while (bytes_ > 0 && live + bytes_ > most + most / 8) evict_oldest();
      return nullptr;
    }
    const auto entry = it->second.back();  // the most recently freed of this size
    it->second.pop_back();
    void* p = entry->p;
    lru_.erase(entry);
    bytes_ -= capacity;
    return p;
  }
  // Keeps `p` for reuse when it is large enough and not larger than the bound; else frees it.
  // (p may be null: a failed allocation no longer counts as live.)
  void give(void* p, std::size_t capacity) {
    live_ -= capacity;
    if (!p) return;
    if (capacity < kStorageCacheMinBytes || capacity > storage_cache_max_bytes()) {
      std::free(p);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    while (bytes_ + capacity > storage_cache_max_bytes()) evict_oldest();
    lru_.push_back({p, capacity});
    by_size_[capacity].push_back(std::prev(lru_.end()));
    bytes_ += capacity;
  }
  std::size_t bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    while (!lru_.empty()) evict_oldest();
  }
  std::size_t live() const { return live_; }
  std::size_t peak() const { return peak_; }
  // Starts a measurement: the peak from now on, counted from what is live; returns the old peak.
  std::size_t restart_peak() { return peak_.exchange(live_); }
  // Ends it: the peak of the enclosing measurement, which includes this one's.
  void resume_peak(std::size_t enclosing) { raise(peak_, enclosing); }

 private:
  struct Block {
    void* p;
    std::size_t capacity;
  };
  using Entry = std::list<Block>::iterator;
  void evict_oldest() {
    const Entry oldest = lru_.begin();
    std::deque<Entry>& same = by_size_[oldest->capacity];
    same.pop_front();  // blocks of one size are freed in order: the oldest of them is first
    std::free(oldest->p);
    bytes_ -= oldest->capacity;
    lru_.erase(oldest);
  }

  // Raises `mark` to at least `value`; returns the mark.
  static std::size_t raise(std::atomic<std::size_t>& mark, std::size_t value) {
    std::size_t seen = mark;
    while (seen < value && !mark.compare_exchange_weak(seen, value)) {
    }
    return std::max(seen, value);
  }

  std::atomic<std::size_t> live_{0};       // bytes of the buffers tensors hold now
  std::atomic<std::size_t> peak_{0};       // the most live in the current measurement
  std::atomic<std::size_t> most_live_{0};  // the most live ever (bounds live + cached)
  std::mutex mutex_;
  std::list<Block> lru_;  // least recently freed first
  std::unordered_map<std::size_t, std::deque<Entry>> by_size_;
  std::size_t bytes_ = 0;
};

// Never destroyed: storages released during static destruction can still return their buffers.
StorageCache& cache() {
  static StorageCache* instance = new StorageCache;
  return *instance;
}

// Buffers of twice this size and more are aligned to it and marked for transparent huge pages:
// the kernel can then map them 2 MiB at a time, and the first touch of a fresh buffer takes 512
// times fewer page faults (which are expensive on virtual machines like the benchmark machine).
constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

void* allocate(std::size_t capacity) {
  if (capacity < 2 * kHugePageBytes) return std::aligned_alloc(64, capacity);
  const std::size_t rounded = (capacity + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  void* p = std::aligned_alloc(kHugePageBytes, rounded);
  if (p) madvise(p, rounded, MADV_HUGEPAGE);  // a hint: where it is refused, nothing changes
  return p;
}

// The capacity allocated for `nbytes`: a multiple of 64 bytes; from kStorageCacheMinBytes on,
// rounded up to four significant bits (m · 2^e, 8 <= m < 16: at most 12.5 % more), so that
// tensors whose size varies a little from call to call — the rows of a refined quadrature, the
// samples of a partial chunk — share cached buffers instead of each faulting in fresh pages.
std::size_t capacity_for(std::size_t nbytes) {
  if (nbytes < kStorageCacheMinBytes) return nbytes == 0 ? 64 : (nbytes + 63) / 64 * 64;
  const std::size_t unit = std::size_t{1} << (std::bit_width(nbytes) - 4);
  return (nbytes + unit - 1) / unit * unit;
}

}  // namespace

Storage::Storage(std::size_t nbytes, bool zero_fill) : nbytes_(nbytes), capacity_(capacity_for(nbytes)) {
  data_ = cache().take(capacity_);
  if (!data_) data_ = allocate(capacity_);
  if (!data_) {
    cache().give(nullptr, capacity_);
    throw std::bad_alloc();
  }
  if (zero_fill) std::memset(data_, 0, nbytes_);
}

Storage::~Storage() { cache().give(data_, capacity_); }

std::size_t storage_cache_max_bytes() {
  static const std::size_t bound = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    const std::size_t quarter =
        pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) / 4 : 0;
    return std::max(std::size_t{1} << 30, quarter);
  }();
  return bound;
}
std::size_t storage_cache_bytes() { return cache().bytes(); }
std::size_t storage_live_bytes() { return cache().live(); }

StoragePeakMeter::StoragePeakMeter() : enclosing_(cache().restart_peak()) {}
StoragePeakMeter::~StoragePeakMeter() { cache().resume_peak(enclosing_); }
std::size_t StoragePeakMeter::peak() const { return cache().peak(); }
void release_storage_cache() { cache().release(); }

}  // namespace pathgrad
