// The mean NLL objective over shards, and its per-sample form.
#include "examples/common/nll_objective.hpp"

#include <vector>

#include "autograd/ops.hpp"
#include "nn/loss.hpp"
#include "optim/data_parallel.hpp"
#include "tensor/kernels.hpp"

namespace pathgrad::examples {

namespace K = kernel;

BatchLoss backward_mean_nll(nn::Module& model, const optim::Optimizer& optimizer, const nn::data::Batch& batch,
                            int64_t shards, const optim::Communicator& comm) {
  const int64_t n = batch.x.size(0);
  const optim::ShardPlan plan(n, shards, comm.rank(), comm.size(), "--shards");
  const std::vector<double> sums =
      optim::backward_over_shards(optimizer.named_parameters(), plan, comm, 2, [&](int64_t begin, int64_t end) {
        const Tensor y = K::narrow(batch.y, 0, begin, end - begin);
        const Tensor out = model.forward(K::narrow(batch.x, 0, begin, end - begin));  // [b, C]
        const Tensor loss = nn::nll_loss(out, y, nn::Reduction::Sum) * (1.0 / static_cast<double>(n));
        loss.backward();
        const Tensor hits = K::eq(K::argmax(out, 1), y).to(DType::Float64);
        return std::vector<double>{loss.item(), K::sum(hits).item()};
      });
  return {sums[0], sums[1] * (1.0 / static_cast<double>(n))};
}

explaind::LossFn per_sample_nll() {
  return [](const Tensor& out, const Tensor& y) { return nn::nll_loss(out, y, nn::Reduction::None); };
}

}  // namespace pathgrad::examples
