// safetensors files: named tensors plus string metadata, the checkpoint format shared with the
// Python ecosystem (https://github.com/huggingface/safetensors).
//
// Layout: 8 bytes little-endian header length N, then N bytes of UTF-8 JSON
//   {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"<key>": "<value>", ...}}
// (optionally padded with spaces), then the data buffer: every tensor's bytes, little-endian,
// row-major, at [begin, end) relative to the start of the buffer. The tensors tile the buffer
// exactly: no gaps, no overlaps, nothing after the last one. Supported dtypes: F32, F64, I64, U8.
#pragma once

#include <map>
#include <string>

#include "tensor/tensor.hpp"

namespace pathgrad {

struct SafetensorsContents {
  NamedTensors tensors;                         // in file order (by data offset)
  std::map<std::string, std::string> metadata;  // the "__metadata__" entries
};

// Writes the tensors in the given order (any strides; non-contiguous views are written in their
// logical row-major order) and the metadata to `path` atomically (tensor/atomic_file.hpp). The
// header is padded with spaces so the data starts 8-byte aligned. Throws std::invalid_argument
// for an undefined tensor, an empty, reserved ("__metadata__") or repeated name, and
// std::runtime_error naming the file on I/O failure.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads a safetensors file into fresh contiguous tensors. Throws std::runtime_error naming the
// file (and the tensor, where one is at fault) for: a missing/unreadable file, a header length
// beyond the file, invalid JSON or a header that is not an object, a repeated name, missing or
// ill-typed fields, an unknown dtype, data offsets out of the buffer, overlapping, leaving gaps
// or bytes after the last tensor, and a shape whose size does not match its offsets.
SafetensorsContents load_safetensors(const std::string& path);

}  // namespace pathgrad
