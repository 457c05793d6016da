// IDX reading through zlib (plain or .gz), header checks, and the Fashion-MNIST directory loader.
#include "nn/data/idx.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "tensor/kernels.hpp"

namespace pathgrad::nn::data {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;

// A plain or gzip file read through zlib, with errors naming the path.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path), file_(nullptr, gzclose) {
    if (!std::filesystem::is_regular_file(path))
      throw std::runtime_error(fmt::format("IDX: file {} not found; expected an IDX file (plain or .gz)", path));
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) throw std::runtime_error(fmt::format("IDX: cannot open {}", path));
    gzbuffer(file_.get(), 1 << 17);
  }
  // Reads up to n bytes into dst; fewer only at the end of the data.
  uint64_t read(void* dst, uint64_t n) {
    uint64_t done = 0;
    while (done < n) {
      const unsigned want = static_cast<unsigned>(std::min<uint64_t>(n - done, 1u << 30));
      const int got = gzread(file_.get(), static_cast<char*>(dst) + done, want);
      int errnum = Z_OK;
      const char* message = gzerror(file_.get(), &errnum);
      if (got < 0 || (errnum != Z_OK && errnum != Z_BUF_ERROR))
        throw std::runtime_error(fmt::format("IDX: cannot decompress {}: {}", path_, message));
      if (got == 0 && errnum == Z_BUF_ERROR)
        throw std::runtime_error(fmt::format("IDX: {} ends in the middle of its gzip stream (truncated)", path_));
      if (got == 0) break;
      done += static_cast<uint64_t>(got);
    }
    return done;
  }
  // The number of bytes left.
  uint64_t skip_rest() {
    std::vector<char> chunk(1 << 16);
    uint64_t rest = 0;
    while (const uint64_t got = read(chunk.data(), chunk.size())) rest += got;
    return rest;
  }

 private:
  std::string path_;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file_;
};

// The uint8 contents of an IDX file whose magic must be `magic` (its low byte is the number of
// dims), shaped by the dims of its header.
Tensor read_idx(const std::string& path, uint32_t magic, const char* what) {
  GzReader in(path);
  const size_t ndim = magic & 0xff, header_size = 4 + 4 * ndim;
  std::vector<uint8_t> header(header_size);
  const uint64_t got = in.read(header.data(), header_size);
  if (got < header_size)
    throw std::runtime_error(fmt::format("IDX: {} has {} bytes, shorter than the {}-byte header of an IDX {} file",
                                         path, got, header_size, what));
  const auto big_endian_u32 = [&](size_t at) {
    return uint32_t{header[at]} << 24 | uint32_t{header[at + 1]} << 16 | uint32_t{header[at + 2]} << 8 | header[at + 3];
  };
  if (const uint32_t found = big_endian_u32(0); found != magic)
    throw std::runtime_error(
        fmt::format("IDX: {} has magic number 0x{:08x}, expected 0x{:08x} ({})", path, found, magic, what));
  Shape dims;
  for (size_t d = 0; d < ndim; ++d) dims.push_back(big_endian_u32(4 + 4 * d));
  const std::optional<int64_t> size = contiguous_bytes(dims, 1);
  if (!size)
    throw std::runtime_error(fmt::format("IDX: {} has dims {}, too large for a tensor", path, shape_str(dims)));
  const uint64_t expected = static_cast<uint64_t>(*size);
  // Read in chunks, so that memory follows the data actually present, not what a header claims.
  std::vector<uint8_t> bytes;
  while (bytes.size() < expected) {
    const size_t old = bytes.size();
    const uint64_t want = std::min<uint64_t>(expected - old, uint64_t{1} << 24);
    bytes.resize(old + want);
    const uint64_t got = in.read(bytes.data() + old, want);
    bytes.resize(old + got);
    if (got < want) break;
  }
  if (const uint64_t extra = bytes.size() == expected ? in.skip_rest() : 0; bytes.size() != expected || extra != 0)
    throw std::runtime_error(fmt::format("IDX: {} has dims {}, so expected {} bytes of {} after the header, found {}",
                                         path, shape_str(dims), expected, what, bytes.size() + extra));
  return Tensor::from_buffer(bytes.data(), dims, DType::UInt8);
}

// dir/name.gz if it exists, else dir/name.
std::string find_plain_or_gz(const std::string& dir, const std::string& name) {
  const std::filesystem::path gz = std::filesystem::path(dir) / (name + ".gz"),
                              plain = std::filesystem::path(dir) / name;
  if (std::filesystem::is_regular_file(gz)) return gz.string();
  if (std::filesystem::is_regular_file(plain)) return plain.string();
  throw std::runtime_error(fmt::format(
      "Fashion-MNIST: neither {} nor {} exists; expected the IDX files of Fashion-MNIST", gz.string(), plain.string()));
}

}  // namespace

Tensor read_idx_images(const std::string& path) { return read_idx(path, kImagesMagic, "images"); }

Tensor read_idx_labels(const std::string& path) { return read_idx(path, kLabelsMagic, "labels").to(DType::Int64); }

ImageSet read_idx_pair(const std::string& images_path, const std::string& labels_path) {
  const Tensor images = read_idx_images(images_path);
  const Tensor labels = read_idx_labels(labels_path);
  if (images.size(0) != labels.size(0))
    throw std::runtime_error(fmt::format("IDX: {} holds {} images but {} holds {} labels; expected equal counts",
                                         images_path, images.size(0), labels_path, labels.size(0)));
  return {kernel::unsqueeze(images, 1), labels};
}

ImageSplits load_fashion_mnist(const std::string& dir, const ImageOptions& options) {
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error(
        fmt::format("Fashion-MNIST: directory {} does not exist; expected the IDX files "
                    "{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte[.gz] (Debian's dataset-fashion-mnist "
                    "installs them in {})",
                    dir, kDebianFashionMnistDir));
  const auto read_split = [&](const char* prefix) {
    const std::string labels_path = find_plain_or_gz(dir, fmt::format("{}-labels-idx1-ubyte", prefix));
    ImageSet set = read_idx_pair(find_plain_or_gz(dir, fmt::format("{}-images-idx3-ubyte", prefix)), labels_path);
    check_labels(set.labels, kFashionMnistClasses, "Fashion-MNIST: " + labels_path);
    return set;
  };
  return prepare_image_splits(read_split("train"), read_split("t10k"), options, kFashionMnistClasses,
                              "Fashion-MNIST " + dir);
}

}  // namespace pathgrad::nn::data
