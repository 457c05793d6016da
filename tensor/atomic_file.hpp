// Files written atomically (temporary file in the same directory, flushed, then renamed over the
// target), so an interrupted run never leaves a half-written file behind; and whole-file reads
// with clear errors.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace pathgrad {

// Writes `contents` to `path` atomically. Creates missing parent directories.
// Throws std::runtime_error naming the path on any I/O failure.
void write_file_atomically(const std::string& path, const std::string& contents);
// Same, with a callback that streams the contents (binary mode).
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& writer);
// The whole file. Throws std::runtime_error naming the path if it cannot be read.
std::string read_file(const std::string& path);

}  // namespace pathgrad
