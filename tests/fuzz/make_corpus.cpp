// Writes the seed corpora of the fuzz targets into <dir>/<target>/ (tests/fuzz/corpus is its
// output, committed): a few valid files written by the library itself and a few edge cases
// (empty tensors, zero images, a bad label, an inexact integer). Run by scripts/fuzz.sh --corpus.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tensor/atomic_file.hpp"
#include "tensor/npy.hpp"
#include "tensor/safetensors.hpp"
#include "tests/fuzz/tiny_run.hpp"

namespace {

using namespace pathgrad;
namespace fs = std::filesystem;

std::string big_endian(std::initializer_list<uint32_t> words) {
  std::string s;
  for (uint32_t v : words)
    for (int shift : {24, 16, 8, 0}) s += static_cast<char>((v >> shift) & 0xff);
  return s;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile out = gzopen(path.c_str(), "wb9");
  if (!out || gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size())) != static_cast<int>(bytes.size()) ||
      gzclose(out) != Z_OK)
    throw std::runtime_error("cannot write " + path);
}

void tensor_files(const std::string& dir) {
  const Tensor f32 = Tensor::from_vector(std::vector<float>{1, -2, 0.5f, 3, 4, -0.0f}, {2, 3});
  const Tensor i64 = Tensor::from_vector(std::vector<int64_t>{-1, 7}, {2});
  save_safetensors(dir + "/safetensors/two.safetensors", {{"w", f32}, {"ids", i64}}, {{"format", "pt"}});
  save_safetensors(dir + "/safetensors/empty_and_scalar.safetensors",
                   {{"e", Tensor::zeros({0, 4}, DType::Float64)}, {"s", Tensor::scalar(2.5, DType::Float64)}});
  save_safetensors(dir + "/safetensors/nothing.safetensors", {});
  save_npy(dir + "/npy/f32.npy", f32);
  save_npy(dir + "/npy/i64.npy", i64);
  save_npy(dir + "/npy/scalar_f64.npy", Tensor::scalar(-1.25, DType::Float64));
  save_npy(dir + "/npy/empty_u8.npy", Tensor::zeros({0, 5}, DType::UInt8));
}

void image_files(const std::string& dir) {
  std::string images = big_endian({0x803, 2, 3, 3}), labels = big_endian({0x801, 3});
  for (int i = 0; i < 18; ++i) images += static_cast<char>(i * 14);
  labels += std::string("\x01\x00\x09", 3);
  write_file_atomically(dir + "/idx/images-idx3", images);
  write_file_atomically(dir + "/idx/labels-idx1", labels);
  write_gz(dir + "/idx/images-idx3.gz", images);
  write_gz(dir + "/idx/labels-idx1.gz", labels);
  write_file_atomically(dir + "/idx/zero-images-idx3", big_endian({0x803, 0, 28, 28}));
  write_file_atomically(dir + "/idx_gz/images-idx3", images);
  write_file_atomically(dir + "/idx_gz/labels-idx1", labels);
  write_file_atomically(dir + "/idx_gz/zero-images-idx3", big_endian({0x803, 0, 28, 28}));
  std::string records;
  for (char label : {'\x03', '\x05'}) records += label + std::string(3072, static_cast<char>(label * 40));
  write_file_atomically(dir + "/cifar/two_records.bin", records);
  write_file_atomically(dir + "/cifar/bad_label.bin", '\x0a' + std::string(3072, '\0'));
}

void state_files(const std::string& dir) {
  const std::string scratch = (fs::temp_directory_path() / "pathgrad_fuzz_corpus").string();
  fs::remove_all(scratch);
  {
    fuzz::TinyRun run;
    Generator augment(5);
    fuzz::save_tiny_checkpoint(run, augment, scratch + "/ckpt");
  }
  const std::string state = read_file(scratch + "/ckpt/state.json");
  write_file_atomically(dir + "/checkpoint_state/state.json", state);
  nlohmann::json inexact = nlohmann::json::parse(state);
  inexact["loader"]["epoch"] = 2.7;
  write_file_atomically(dir + "/checkpoint_state/fractional_epoch.json", inexact.dump());
  write_file_atomically(dir + "/checkpoint_state/empty_object.json", "{}");
  {
    fuzz::TinyRun run;
    auto tracker = fuzz::make_tracker(run, scratch + "/out", "");
    run.train(3);
    tracker->save_state(scratch + "/three");
    run.train(2);
    tracker->save_state(scratch + "/five");
  }
  fs::copy_file(scratch + "/three/tracker_state.safetensors", dir + "/tracker_state/three_steps.safetensors",
                fs::copy_options::overwrite_existing);
  fs::copy_file(scratch + "/five/tracker_state.safetensors", dir + "/tracker_state/five_steps.safetensors",
                fs::copy_options::overwrite_existing);
  fs::remove_all(scratch);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  for (const char* t : {"safetensors", "npy", "idx", "idx_gz", "cifar", "checkpoint_state", "tracker_state"})
    fs::create_directories(dir + "/" + t);
  tensor_files(dir);
  image_files(dir);
  state_files(dir);
  return 0;
}
