// Atomic file writes (temp file + fsync + rename) and whole-file reads.
#include "tensor/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tensor/fault_point.hpp"

namespace pathgrad {

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& writer) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw std::runtime_error("cannot create directory " + target.parent_path().string() + ": " + ec.message());
  }
  // Unique per process and call, so concurrent writers of the same path never share a temp file.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot open " + tmp + " for writing");
    writer(out);  // may throw: the temp file is removed and the target left untouched
    fault_point("write_file_atomically: before the rename");
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  // Data the kernel could not write back (a full disk, an I/O error) shows up here at the latest.
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    const bool synced = ::fsync(fd) == 0 || errno == EINVAL;  // EINVAL: the filesystem has no fsync
    const int err = errno;
    ::close(fd);
    if (!synced) {
      std::remove(tmp.c_str());
      throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
  }
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  write_file_atomically(
      path, [&](std::ostream& out) { out.write(contents.data(), static_cast<std::streamsize>(contents.size())); });
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path + " for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error("error while reading " + path);
  return ss.str();
}

}  // namespace pathgrad
