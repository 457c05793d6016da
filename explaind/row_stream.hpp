// A .npy array written one row at a time, for exports that grow with the number of steps
// (per-step influence, residuals, windows): rows go to "<path>.part" as they come, and finish()
// writes the final .npy (header + rows) atomically. Memory use is one row.
#pragma once

#include <cstdio>
#include <string>

#include "tensor/tensor.hpp"

namespace pathgrad::explaind {

class RowStream {
 public:
  RowStream() = default;
  // Rows of shape `row_shape`, stored as float64, to be finished into `path`. A new stream
  // starts an empty .part file; with keep_existing the .part file is kept for resume().
  RowStream(std::string path, Shape row_shape, bool keep_existing = false);
  RowStream(RowStream&&) noexcept;
  RowStream& operator=(RowStream&&) noexcept;
  ~RowStream();

  bool active() const { return file_ != nullptr; }
  // Appends one row (any float dtype, shape row_shape).
  void append(const Tensor& row);
  int64_t rows() const { return rows_; }
  // Writes the rows appended so far to disk (fflush + fsync), for a consistent checkpoint.
  void flush();
  // Continues a stream interrupted after `rows` rows: the .part file is cut back to them (rows
  // appended after the checkpoint are dropped) and reopened for appending. When a finish() had
  // already turned the .part file into <path> (a run killed while writing its exports), the
  // first `rows` rows of <path> are taken back into a new .part file, so finishing can always
  // be done again. Throws std::runtime_error naming the file when neither holds `rows` rows.
  void resume(int64_t rows);
  // Writes <path> as float64 [rows, ...row_shape] atomically, then removes the .part file.
  void finish();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  Shape row_shape_;
  std::FILE* file_ = nullptr;
  int64_t rows_ = 0;
};

}  // namespace pathgrad::explaind
