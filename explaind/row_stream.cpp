// Row-by-row .npy writing: rows are appended to a .part file, then wrapped in an .npy header.
#include "explaind/row_stream.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "tensor/atomic_file.hpp"
#include "tensor/fault_point.hpp"
#include "tensor/kernels.hpp"
#include "tensor/npy.hpp"

namespace pathgrad::explaind {

RowStream::RowStream(std::string path, Shape row_shape, bool keep_existing)
    : path_(std::move(path)), row_shape_(std::move(row_shape)) {
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  file_ = std::fopen((path_ + ".part").c_str(), keep_existing ? "ab" : "wb");
  if (!file_) throw std::runtime_error("cannot open " + path_ + ".part for writing");
}

RowStream::RowStream(RowStream&& o) noexcept
    : path_(std::move(o.path_)), row_shape_(std::move(o.row_shape_)), file_(o.file_), rows_(o.rows_) {
  o.file_ = nullptr;
}

RowStream& RowStream::operator=(RowStream&& o) noexcept {
  if (this != &o) {
    if (file_) std::fclose(file_);
    path_ = std::move(o.path_);
    row_shape_ = std::move(o.row_shape_);
    file_ = o.file_;
    rows_ = o.rows_;
    o.file_ = nullptr;
  }
  return *this;
}

RowStream::~RowStream() {
  if (file_) std::fclose(file_);
}

void RowStream::append(const Tensor& row) {
  if (!file_) throw std::logic_error("RowStream: append after finish for " + path_);
  if (row.shape() != row_shape_)
    throw std::invalid_argument(
        fmt::format("RowStream {}: row {} expected {}", path_, shape_str(row.shape()), shape_str(row_shape_)));
  const Tensor r = row.to(DType::Float64).contiguous();
  const size_t n = static_cast<size_t>(r.numel());
  if (std::fwrite(r.data<double>(), sizeof(double), n, file_) != n)
    throw std::runtime_error("write failed for " + path_ + ".part");
  ++rows_;
}

void RowStream::flush() {
  if (file_ && (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0))
    throw std::runtime_error(fmt::format("cannot write {}.part: {}", path_, std::strerror(errno)));
}

namespace {
// The first `rows` rows of a finished stream's .npy as the bytes of its .part file. Throws
// naming the file when it is not float64 [>= rows, ...row_shape].
std::string rows_of_finished(const std::string& path, const Shape& row_shape, int64_t rows) {
  const Tensor t = load_npy(path);
  const Shape shape(t.shape().begin() + (t.dim() > 0 ? 1 : 0), t.shape().end());
  if (t.dtype() != DType::Float64 || t.dim() == 0 || shape != row_shape || t.shape()[0] < rows)
    throw std::runtime_error(
        fmt::format("cannot resume {}: it is not float64 [>= {}, {}]", path, rows, fmt::join(row_shape, ", ")));
  const Tensor head = kernel::narrow(t, 0, 0, rows).contiguous();
  return std::string(static_cast<const char*>(head.raw_data()), static_cast<size_t>(head.numel()) * sizeof(double));
}
}  // namespace

void RowStream::resume(int64_t rows) {
  if (!file_) throw std::logic_error("RowStream: resume of a finished stream " + path_);
  std::fclose(file_);
  file_ = nullptr;
  const std::string part = path_ + ".part";
  const auto bytes = static_cast<std::uintmax_t>(rows * numel(row_shape_)) * sizeof(double);
  if (rows >= 0 && std::filesystem::file_size(part) < bytes && std::filesystem::exists(path_))
    write_file_atomically(part, rows_of_finished(path_, row_shape_, rows));  // finish() had begun
  if (rows < 0 || std::filesystem::file_size(part) < bytes)
    throw std::runtime_error(
        fmt::format("cannot resume {}: it holds fewer than the {} rows of the checkpoint", part, rows));
  std::filesystem::resize_file(part, bytes);
  file_ = std::fopen(part.c_str(), "ab");
  if (!file_) throw std::runtime_error("cannot reopen " + part);
  rows_ = rows;
}

void RowStream::finish() {
  if (!file_) return;
  if (std::fclose(file_) != 0) throw std::runtime_error("cannot close " + path_ + ".part");
  file_ = nullptr;
  Shape shape = row_shape_;
  shape.insert(shape.begin(), rows_);
  const std::string part = path_ + ".part";
  write_file_atomically(path_, [&](std::ostream& out) {
    const std::string header = npy_header(DType::Float64, shape);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    std::ifstream in(part, std::ios::binary);
    if (!in) throw std::runtime_error("cannot reopen " + part);
    if (rows_ > 0) out << in.rdbuf();
  });
  fault_point("RowStream::finish: before removing the .part file");
  std::filesystem::remove(part);
}

}  // namespace pathgrad::explaind
