// A rank's sample level: its blocks' buffers, the per-sample gradients of their batch rows, their
// kernel products and their checkpoint files.
#include "explaind/sample_shard.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "autograd/engine.hpp"
#include "tensor/json_file.hpp"
#include "tensor/kernels.hpp"
#include "tensor/safetensors.hpp"

namespace pathgrad::explaind {
namespace K = kernel;

namespace {
constexpr const char* kMetadataKey = "pathgrad.sample_buffers";

double max_abs(const Tensor& t) { return t.numel() ? K::amax(K::abs(t)).item() : 0.0; }

// dst[:, ids[j]] += src[:, j]: dst float64 [M, N] contiguous, src float64 [M, b], ids int64 [b].
void scatter_columns(const Tensor& dst, const Tensor& ids, const Tensor& src_in) {
  const Tensor src = src_in.contiguous();
  const int64_t M = dst.size(0), N = dst.size(1), b = src.size(1);
  const int64_t* id = ids.data<int64_t>();
  double* d = dst.data<double>();
  const double* s = src.data<double>();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < b; ++j) d[m * N + id[j]] += s[m * b + j];
}

// The batch rows whose sample is in [lo, hi), in batch order, and their samples' indices in the
// block (sample − lo).
struct BlockRows {
  Tensor rows, local_ids;  // int64 [b] each
};

BlockRows rows_in(const Tensor& batch_ids, int64_t lo, int64_t hi) {
  const Tensor ids = batch_ids.contiguous();
  std::vector<int64_t> rows, local;
  for (int64_t j = 0; j < ids.numel(); ++j) {
    const int64_t id = ids.data<int64_t>()[j];
    if (id < lo || id >= hi) continue;
    rows.push_back(j);
    local.push_back(id - lo);
  }
  const int64_t b = static_cast<int64_t>(rows.size());
  return {Tensor::from_vector(rows, {b}), Tensor::from_vector(local, {b})};
}
}  // namespace

SampleShard::SampleShard(const optim::ShardPlan& blocks, ForwardFn forward, LossFn loss, NamedTensors eval_params,
                         std::vector<ResolvedComponent> components, DType buffer_dtype, int64_t chunk_size)
    : blocks_(blocks),
      forward_(std::move(forward)),
      loss_(std::move(loss)),
      eval_params_(std::move(eval_params)),
      layout_(eval_params_),
      components_(std::move(components)),
      chunk_size_(chunk_size) {
  if (chunk_size_ < 1) throw std::invalid_argument(fmt::format("SampleShard: chunks of {} samples", chunk_size_));
  for (int64_t k = blocks_.first_shard(); k < blocks_.end_shard(); ++k)
    buffers_.emplace_back(blocks_.end(k) - blocks_.begin(k), layout_, buffer_dtype);
}

std::size_t SampleShard::bytes() const {
  std::size_t b = 0;
  for (const SampleBuffers& buffers : buffers_) b += buffers.bytes();
  return b;
}

SampleShares SampleShard::step(const StepRecord& r, const Tensor& phi) {
  const int64_t P = layout_.size(), n = layout_.count();
  if (static_cast<int64_t>(r.buffer_decay.size()) != n || static_cast<int64_t>(r.grad_scale.size()) != n ||
      r.buffer_coef.shape() != Shape{P} || r.direct_coef.shape() != Shape{P} || !r.batch_ids.defined())
    throw std::invalid_argument("SampleShard: the sample level needs the step's linear form and batch");
  for (SampleBuffers& buffers : buffers_) buffers.decay(r.buffer_decay);
  const Tensor phi_direct = max_abs(r.direct_coef) > 0 ? K::mul(phi, r.direct_coef) : Tensor();  // [M_s, P]
  const Tensor phi_buffer = K::mul(phi, r.buffer_coef);                                          // [M_s, P]
  layout_.assign(r.theta0, eval_params_);
  if (buffers_.size() == 1) return block_step(blocks_.first_shard(), r, phi_direct, phi_buffer);
  // Several blocks: their columns side by side.
  const int64_t Ms = phi.size(0), C = num_components(), width = end() - begin();
  SampleShares mine{Tensor::zeros({Ms, width}, DType::Float64),
                    C ? Tensor::zeros({C, Ms, width}, DType::Float64) : Tensor()};
  for (int64_t k = blocks_.first_shard(); k < blocks_.end_shard(); ++k) {
    const SampleShares s = block_step(k, r, phi_direct, phi_buffer);
    const int64_t at = blocks_.begin(k) - begin(), w = s.total.size(1);
    K::narrow(mine.total, 1, at, w).copy_(s.total);
    if (C) K::narrow(mine.components, 2, at, w).copy_(s.components);
  }
  return mine;
}

SampleShares SampleShard::block_step(int64_t k, const StepRecord& r, const Tensor& phi_direct,
                                     const Tensor& phi_buffer) {
  SampleBuffers& buffers = buffers_[static_cast<size_t>(k - blocks_.first_shard())];
  const int64_t P = layout_.size(), n = layout_.count(), Ms = phi_buffer.size(0), C = num_components();
  SampleShares s{Tensor::zeros({Ms, buffers.num_samples()}, DType::Float64),
                 C ? Tensor::zeros({C, Ms, buffers.num_samples()}, DType::Float64) : Tensor()};
  // Per-sample gradients of the block's batch rows at θ_s, chunk by chunk.
  const BlockRows block = rows_in(r.batch_ids, blocks_.begin(k), blocks_.end(k));
  const Tensor x = K::index_select(r.batch_x, 0, block.rows), y = K::index_select(r.batch_y, 0, block.rows);
  const Tensor weights = K::index_select(r.batch_weights, 0, block.rows);
  std::vector<Tensor> leaves;
  for (const auto& [name, p] : eval_params_) leaves.push_back(p);
  const int64_t B = block.rows.numel();
  for (int64_t j0 = 0; j0 < B; j0 += chunk_size_) {
    const int64_t b = std::min(chunk_size_, B - j0);
    const Tensor ids = K::narrow(block.local_ids, 0, j0, b).contiguous();
    const Tensor a = K::narrow(weights, 0, j0, b).contiguous();  // [b]
    Tensor losses = loss_(forward_(K::narrow(x, 0, j0, b)), K::narrow(y, 0, j0, b));
    const std::vector<Tensor> g = per_sample_grad(losses, leaves);  // ∇ℓ_i per tensor, [b, ...]
    buffers.add(ids, g, a, r.grad_scale);
    if (!phi_direct.defined()) continue;
    Tensor grads = Tensor::empty({b, P}, DType::Float64);  // a_i ∇ℓ_i, [b, P]
    for (int64_t p = 0; p < n; ++p) layout_.segment(grads, p).copy_(K::reshape(g[p], {b, -1}));
    grads = K::mul(grads, K::reshape(a.to(DType::Float64), {b, 1}));
    // The part of the step that uses this step's gradient directly: [M_s, b]
    scatter_columns(s.total, ids, K::matmul(phi_direct, K::transpose(grads, 0, 1)));
    for (int64_t c = 0; c < C; ++c)
      for (const auto& [lo, hi] : components_[c].ranges)
        scatter_columns(
            K::squeeze(K::narrow(s.components, 0, c, 1), 0), ids,
            K::matmul(K::narrow(phi_direct, 1, lo, hi - lo), K::transpose(K::narrow(grads, 1, lo, hi - lo), 0, 1)));
  }
  // The part carried by the buffers: every sample of the block seen so far.
  K::add_(s.total, buffers.products(phi_buffer));
  for (int64_t c = 0; c < C; ++c)
    K::add_(K::squeeze(K::narrow(s.components, 0, c, 1), 0), buffers.products(phi_buffer, components_[c].ranges));
  return s;
}

std::string SampleShard::file_of(const std::string& dir, int64_t k) const {
  return fmt::format("{}/sample_buffers_{}_of_{}.safetensors", dir, k, blocks_.shards());
}

void SampleShard::save(const std::string& dir, int64_t steps) const {
  for (int64_t k = blocks_.first_shard(); k < blocks_.end_shard(); ++k) {
    const nlohmann::json meta = {{"block", k},
                                 {"blocks", blocks_.shards()},
                                 {"begin", blocks_.begin(k)},
                                 {"end", blocks_.end(k)},
                                 {"steps", steps}};
    save_safetensors(file_of(dir, k), buffers_[static_cast<size_t>(k - blocks_.first_shard())].state(),
                     {{kMetadataKey, meta.dump()}});
  }
}

void SampleShard::load(const std::string& dir, int64_t steps) {
  std::vector<NamedTensors> states;
  for (int64_t k = blocks_.first_shard(); k < blocks_.end_shard(); ++k) {
    const std::string path = file_of(dir, k);
    const auto fail = [&](const std::string& problem) {
      throw std::runtime_error(fmt::format("{}: {}", path, problem));
    };
    if (!std::filesystem::exists(path))
      fail(
          fmt::format("missing: this run keeps the sample buffers of {} training samples in {} blocks (the tracker's "
                      "sample_shards, the examples' --shards); resume with the number the run was saved with",
                      blocks_.batch(), blocks_.shards()));
    SafetensorsContents c = load_safetensors(path);
    const auto it = c.metadata.find(kMetadataKey);
    if (it == c.metadata.end()) fail(fmt::format("not a sample-buffers file (no {} metadata)", kMetadataKey));
    const nlohmann::json meta = parse_json(it->second, path + ": metadata");
    try {
      const nlohmann::json want = {{"block", k},
                                   {"blocks", blocks_.shards()},
                                   {"begin", blocks_.begin(k)},
                                   {"end", blocks_.end(k)},
                                   {"steps", steps}};
      for (const auto& [field, value] : want.items())
        if (json_int(meta.at(field), field) != value.get<int64_t>())
          fail(fmt::format("holds {} {} where this run expects {}", field, meta.at(field).dump(), value.dump()));
      buffers_[static_cast<size_t>(k - blocks_.first_shard())].check_state(c.tensors);
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    } catch (const nlohmann::json::exception& e) {
      fail(fmt::format("metadata: {}", e.what()));
    }
    states.push_back(std::move(c.tensors));
  }
  for (size_t i = 0; i < states.size(); ++i) buffers_[i].load_state(states[i]);
}

}  // namespace pathgrad::explaind
