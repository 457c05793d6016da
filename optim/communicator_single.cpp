// The one-process Communicator of a build without MPI: rank 0 of 1.
#include <cstdlib>
#include <stdexcept>

#include "optim/communicator.hpp"

namespace pathgrad::optim {

const Communicator& Communicator::world() {
  static const Communicator single(0, 1);
  return single;
}

std::vector<double> Communicator::all_gather(const std::vector<double>& mine,
                                             const std::vector<int64_t>& counts) const {
  if (counts.size() != 1 || counts[0] != static_cast<int64_t>(mine.size()))
    throw std::invalid_argument("Communicator::all_gather: counts must hold mine.size() for the one rank");
  return mine;
}

std::vector<double> Communicator::gather(const std::vector<double>& mine, const std::vector<int64_t>& counts) const {
  return all_gather(mine, counts);
}

void Communicator::broadcast(std::vector<double>&) const {}

bool Communicator::any(bool flag) const { return flag; }

void Communicator::abort(int code) const { std::exit(code); }

}  // namespace pathgrad::optim
