// The processes of a data-parallel run: MPI's ranks when pathgrad is built with MPI (meson option
// -Dmpi, docs/scaling.md) and the program was started by mpirun; otherwise one process, rank 0 of
// 1, so that the same program runs unchanged without MPI. communicator_mpi.cpp is the only file
// that talks to MPI; communicator_single.cpp is the one-process build.
//
// Contracts:
// - Collective calls (all_gather, gather, broadcast, any, require_same_on_every_rank) must be made by every rank in
//   the same order, as in MPI; results are identical on every rank.
// - MPI is initialised by the first call to world() when an MPI launcher started the program
//   (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE is set), and finalised at exit. Otherwise MPI is
//   never initialised and world() is one rank, even in an MPI build.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pathgrad::optim {

class Communicator {
 public:
  // Every process of the run (MPI_COMM_WORLD).
  static const Communicator& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  // Every rank passes its values `mine`; counts[r] is how many rank r passes (the same `counts`
  // on every rank, counts[rank()] == mine.size()). Returns every rank's values, concatenated in
  // rank order. Throws std::invalid_argument on inconsistent counts and std::runtime_error when
  // MPI fails.
  std::vector<double> all_gather(const std::vector<double>& mine, const std::vector<int64_t>& counts) const;

  // As all_gather, but only rank 0 receives every rank's values (concatenated in rank order); the
  // other ranks get an empty vector. Same exceptions.
  std::vector<double> gather(const std::vector<double>& mine, const std::vector<int64_t>& counts) const;

  // Rank 0's `values` on every rank: rank 0 sends them, every other rank receives them into its
  // `values`, which must already have the same size as rank 0's (std::invalid_argument
  // otherwise, thrown on the rank at fault after the call; std::runtime_error when MPI fails).
  void broadcast(std::vector<double>& values) const;

  // True when `flag` is true on at least one rank.
  bool any(bool flag) const;

  // Ends every rank's process with exit status `code` (MPI_Abort; std::exit with one rank). For
  // an error on one rank while the others may wait in a collective call.
  [[noreturn]] void abort(int code) const;

 private:
  Communicator(int rank, int size) : rank_(rank), size_(size) {}
  int rank_, size_;
};

// Throws std::invalid_argument "ranks 0 and r differ in <what> ..." unless `text` is the same
// on every rank (compared by a 64-bit hash): e.g. the settings every rank was started with.
void require_same_on_every_rank(const Communicator& comm, const std::string& text, const std::string& what);

}  // namespace pathgrad::optim
