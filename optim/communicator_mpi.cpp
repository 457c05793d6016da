// The Communicator over MPI (MPI_COMM_WORLD): the only file of pathgrad that calls MPI.
// MPI's C interface only: without its deprecated C++ bindings (and their warnings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <fmt/format.h>

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
  if (status != MPI_SUCCESS) throw std::runtime_error(fmt::format("Communicator: {} failed (MPI error {})", call, status));
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

std::vector<double> Communicator::all_gather(const std::vector<double>& mine, const std::vector<int64_t>& counts) const {
  if (counts.size() != static_cast<size_t>(size_) || counts[static_cast<size_t>(rank_)] != static_cast<int64_t>(mine.size()))
    throw std::invalid_argument(fmt::format("Communicator::all_gather: {} counts for {} ranks, rank {} passes {} values",
                                            counts.size(), size_, rank_, mine.size()));
  if (size_ == 1) return mine;
  std::vector<int> int_counts, offsets;
  int64_t total = 0;
  for (const int64_t c : counts) {
    if (c < 0) throw std::invalid_argument(fmt::format("Communicator::all_gather: negative count {}", c));
    offsets.push_back(static_cast<int>(total));
    int_counts.push_back(static_cast<int>(c));
    total += c;
  }
  if (total > std::numeric_limits<int>::max())
    throw std::invalid_argument(fmt::format("Communicator::all_gather: {} values exceed MPI's int counts", total));
  std::vector<double> all(static_cast<size_t>(total));
  check(MPI_Allgatherv(mine.data(), int_counts[static_cast<size_t>(rank_)], MPI_DOUBLE, all.data(), int_counts.data(),
                       offsets.data(), MPI_DOUBLE, MPI_COMM_WORLD),
        "MPI_Allgatherv");
  return all;
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
