// The Communicator over MPI (MPI_COMM_WORLD): the only file of pathgrad that calls MPI.
// MPI's C interface only: without its deprecated C++ bindings (and their warnings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <fmt/format.h>
#include <mpi.h>

#include <cstdlib>
#include <limits>
#include <stdexcept>

#include "optim/communicator.hpp"

namespace pathgrad::optim {
namespace {

bool started_by_mpi_launcher() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(variable) != nullptr) return true;
  return false;
}

void check(int status, const char* call) {
  if (status != MPI_SUCCESS)
    throw std::runtime_error(fmt::format("Communicator: {} failed (MPI error {})", call, status));
}

// MPI from the first world() to the end of the program. Only the calling thread uses MPI;
// pathgrad's other threads never do (MPI_THREAD_FUNNELED).
struct MpiSession {
  int rank = 0, size = 1;
  MpiSession() {
    if (!started_by_mpi_launcher()) return;
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
  }
  ~MpiSession() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Finalize();
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

}  // namespace

const Communicator& Communicator::world() {
  static const MpiSession session;
  static const Communicator world(session.rank, session.size);
  return world;
}

namespace {

// MPI's int counts and displacements of a gather, checked: `counts` has one entry per rank, this
// rank's is mine.size(), none is negative and their sum fits an int.
struct GatherLayout {
  std::vector<int> counts, offsets;
  int64_t total = 0;
};

GatherLayout gather_layout(const char* call, const std::vector<double>& mine, const std::vector<int64_t>& counts,
                           int rank, int size) {
  if (counts.size() != static_cast<size_t>(size) ||
      counts[static_cast<size_t>(rank)] != static_cast<int64_t>(mine.size()))
    throw std::invalid_argument(fmt::format("Communicator::{}: {} counts for {} ranks, rank {} passes {} values", call,
                                            counts.size(), size, rank, mine.size()));
  GatherLayout g;
  for (const int64_t c : counts) {
    if (c < 0) throw std::invalid_argument(fmt::format("Communicator::{}: negative count {}", call, c));
    g.offsets.push_back(static_cast<int>(g.total));
    g.counts.push_back(static_cast<int>(c));
    g.total += c;
    if (g.total > std::numeric_limits<int>::max())
      throw std::invalid_argument(fmt::format("Communicator::{}: more values than MPI's int counts hold", call));
  }
  return g;
}

}  // namespace

std::vector<double> Communicator::all_gather(const std::vector<double>& mine,
                                             const std::vector<int64_t>& counts) const {
  const GatherLayout g = gather_layout("all_gather", mine, counts, rank_, size_);
  if (size_ == 1) return mine;
  std::vector<double> all(static_cast<size_t>(g.total));
  check(MPI_Allgatherv(mine.data(), g.counts[static_cast<size_t>(rank_)], MPI_DOUBLE, all.data(), g.counts.data(),
                       g.offsets.data(), MPI_DOUBLE, MPI_COMM_WORLD),
        "MPI_Allgatherv");
  return all;
}

std::vector<double> Communicator::gather(const std::vector<double>& mine, const std::vector<int64_t>& counts) const {
  const GatherLayout g = gather_layout("gather", mine, counts, rank_, size_);
  if (size_ == 1) return mine;
  std::vector<double> all(is_root() ? static_cast<size_t>(g.total) : 0);
  check(MPI_Gatherv(mine.data(), g.counts[static_cast<size_t>(rank_)], MPI_DOUBLE, all.data(), g.counts.data(),
                    g.offsets.data(), MPI_DOUBLE, 0, MPI_COMM_WORLD),
        "MPI_Gatherv");
  return all;
}

void Communicator::broadcast(std::vector<double>& values) const {
  if (size_ == 1) return;
  // The sizes first, so that a rank with the wrong one fails instead of MPI truncating.
  int64_t count = static_cast<int64_t>(values.size());
  const int64_t mine = count;
  check(MPI_Bcast(&count, 1, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  const bool wrong = count != mine || count > std::numeric_limits<int>::max();
  if (any(wrong))
    throw std::invalid_argument(fmt::format("Communicator::broadcast: rank 0 sends {} values, rank {} expects {}{}",
                                            count, rank_, mine, wrong ? "" : " (another rank's size differs)"));
  check(MPI_Bcast(values.data(), static_cast<int>(count), MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Bcast");
}

bool Communicator::any(bool flag) const {
  if (size_ == 1) return flag;
  int mine = flag ? 1 : 0, result = 0;
  check(MPI_Allreduce(&mine, &result, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD), "MPI_Allreduce");
  return result != 0;
}

void Communicator::abort(int code) const {
  if (size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

}  // namespace pathgrad::optim
