// What every Communicator build shares: checks that the ranks agree.
#include "optim/communicator.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace pathgrad::optim {
namespace {

// FNV-1a, 64 bits.
uint64_t hash64(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

void require_same_on_every_rank(const Communicator& comm, const std::string& text, const std::string& what) {
  // Two 32-bit halves: doubles hold them exactly.
  const uint64_t h = hash64(text);
  const std::vector<double> mine = {static_cast<double>(h >> 32), static_cast<double>(h & 0xffffffffu)};
  const std::vector<double> all = comm.all_gather(mine, std::vector<int64_t>(static_cast<size_t>(comm.size()), 2));
  for (int r = 1; r < comm.size(); ++r)
    if (all[2 * static_cast<size_t>(r)] != all[0] || all[2 * static_cast<size_t>(r) + 1] != all[1])
      throw std::invalid_argument(fmt::format(
          "ranks 0 and {} differ in {}: start every rank with the same flags (and --out on a file system every rank "
          "sees)",
          r, what));
}

}  // namespace pathgrad::optim
