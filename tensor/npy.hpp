// NumPy .npy files: one tensor per file, readable by numpy.load and by anything that reads .npy.
//
// Supported element types: float32 ('<f4'), float64 ('<f8'), int64 ('<i8') and uint8 ('|u1'),
// little-endian, C (row-major) order. Format versions 1.0, 2.0 and 3.0 are read; 1.0 is written
// (2.0 when the header does not fit 1.0's 16-bit length). The header is padded so the data
// starts at a multiple of 64 bytes, as numpy does.
#pragma once

#include <string>

#include "tensor/tensor.hpp"

namespace pathgrad {

// Writes `tensor` (any strides: a non-contiguous view is written in its logical row-major order)
// to `path` atomically (tensor/atomic_file.hpp). Throws std::runtime_error naming the file on
// I/O failure.
void save_npy(const std::string& path, const Tensor& tensor);

// Everything of a .npy file before its data (magic, version, header length, padded header dict)
// for a C-order array of `dtype` and `shape`: write this, then the raw little-endian elements.
std::string npy_header(DType dtype, const Shape& shape);

// Reads a .npy file into a fresh contiguous tensor. Throws std::runtime_error naming the file and
// the problem for: a missing/unreadable file, bad magic, an unsupported format version, a
// truncated header or data, extra bytes after the data, a malformed header dict, an unsupported
// or big-endian dtype, fortran_order True, or a shape whose size does not match the data.
Tensor load_npy(const std::string& path);

}  // namespace pathgrad
