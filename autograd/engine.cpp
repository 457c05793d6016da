// The reverse-mode engine: iterative topological sort, gradient accumulation, graph release,
// functional and per-sample gradients.
#include "autograd/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "tensor/kernels.hpp"

namespace pathgrad {
namespace {

thread_local bool g_grad_enabled = true;

// Tensors of the graph reachable from the outputs, ordered so that every tensor comes before
// the operands of the node that produced it (outputs first, leaves last).
std::vector<TensorImpl*> topological_order(const std::vector<Tensor>& outputs) {
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> visited;
  // Iterative post-order DFS; reversing the post-order gives outputs-before-inputs.
  struct Frame {
    TensorImpl* t;
    size_t next;
  };
  std::vector<Frame> stack;
  for (const Tensor& out : outputs) {
    TensorImpl* root = out.impl_ptr().get();
    if (!root->requires_grad || !visited.insert(root).second) continue;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      Frame& f = stack.back();
      Node* node = f.t->grad_fn.get();
      if (node && f.next < node->inputs.size()) {
        const Tensor& in = node->inputs[f.next++];
        if (in.defined() && visited.insert(in.impl_ptr().get()).second)
          stack.push_back({in.impl_ptr().get(), 0});
        continue;
      }
      order.push_back(f.t);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};
}

void accumulate(std::unordered_map<TensorImpl*, Tensor>& grads, TensorImpl* key, const Tensor& g) {
  auto it = grads.find(key);
  if (it == grads.end()) {
    grads.emplace(key, g);
  } else if (it->second.is_contiguous() && it->second.impl_ptr().use_count() == 1 &&
             it->second.storage().use_count() == 1) {
    kernel::add_(it->second, g);  // nobody else sees this buffer: add in place
  } else {
    it->second = kernel::add(it->second, g);
  }
}

Tensor default_seed(const Tensor& out, const char* who) {
  if (out.numel() != 1)
    throw std::invalid_argument(fmt::format(
        "{}: output of shape {} is not a single value; pass a seed of the same shape", who,
        shape_str(out.shape())));
  return Tensor::ones(out.shape(), out.dtype());
}

enum class Mode { Accumulate, Functional, PerSample };

// Runs the backward pass. In Functional/PerSample mode returns the gradients of `targets`.
std::vector<Tensor> run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds_in,
                        bool retain_graph, Mode mode, const std::vector<Tensor>& targets,
                        int64_t batch, const char* who) {
  if (!seeds_in.empty() && seeds_in.size() != outputs.size())
    throw std::invalid_argument(fmt::format("{}: {} seeds for {} outputs", who, seeds_in.size(), outputs.size()));
  std::unordered_map<TensorImpl*, Tensor> grads;
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Tensor& out = outputs[k];
    if (!out.requires_grad())
      throw std::invalid_argument(fmt::format(
          "{}: output {} does not require grad (no operand of it was a parameter, or it was computed under NoGradGuard)",
          who, k));
    Tensor seed = seeds_in.empty() || !seeds_in[k].defined() ? default_seed(out, who) : seeds_in[k];
    if (seed.shape() != out.shape() || seed.dtype() != out.dtype())
      throw std::invalid_argument(fmt::format("{}: seed {} {} does not match output {} {}", who,
                                              shape_str(seed.shape()), dtype_name(seed.dtype()),
                                              shape_str(out.shape()), dtype_name(out.dtype())));
    accumulate(grads, out.impl_ptr().get(), seed);
  }

  const std::vector<TensorImpl*> order = topological_order(outputs);
  std::unordered_set<TensorImpl*> target_set;
  for (const Tensor& t : targets) target_set.insert(t.impl_ptr().get());

  // Only nodes with a path to a target need to run (all of them in Accumulate mode).
  std::unordered_set<TensorImpl*> needed;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = *it;
    bool need = mode == Mode::Accumulate ? true : target_set.count(t) > 0;
    if (!need && t->grad_fn)
      for (const Tensor& in : t->grad_fn->inputs)
        if (in.defined() && needed.count(in.impl_ptr().get())) { need = true; break; }
    if (need) needed.insert(t);
  }

  BackwardContext ctx;
  ctx.per_sample = mode == Mode::PerSample;
  ctx.batch = batch;
  std::vector<std::shared_ptr<Node>> ran;  // owning: releasing one node may drop another
  for (TensorImpl* t : order) {
    if (!needed.count(t)) continue;
    auto git = grads.find(t);
    if (git == grads.end()) continue;  // nothing flowed here
    Node* node = t->grad_fn.get();
    if (!node) {  // a leaf
      if (mode == Mode::Accumulate) {
        Tensor g = git->second;
        if (g.shape() != t->shape)
          throw std::logic_error(fmt::format("{}: gradient {} for a leaf of shape {}", who,
                                             shape_str(g.shape()), shape_str(t->shape)));
        if (t->grad) {
          Tensor acc(t->grad);
          kernel::add_(acc, g);
        } else {
          t->grad = g.contiguous().clone().impl_ptr();
        }
      }
      continue;
    }
    if (node->released)
      throw std::logic_error(fmt::format(
          "{}: backward through the graph of '{}' a second time, but its saved values were already "
          "freed; pass retain_graph=true to the first backward call",
          who, node->name));
    const Tensor g_out = git->second;
    if (!target_set.count(t)) grads.erase(git);
    std::vector<Tensor> g_in = node->backward(*node, g_out, ctx);
    ran.push_back(t->grad_fn);
    for (size_t i = 0; i < node->inputs.size(); ++i) {
      if (!node->needs(i) || i >= g_in.size() || !g_in[i].defined()) continue;
      const Tensor& in = node->inputs[i];
      TensorImpl* key = in.impl_ptr().get();
      if (!needed.count(key)) continue;
      Shape expected = in.shape();
      if (node->per_sample(i, ctx)) expected.insert(expected.begin(), batch);
      if (g_in[i].shape() != expected) {
        if (ctx.per_sample && node->per_sample(i, ctx))
          throw std::invalid_argument(fmt::format(
              "per_sample_grad: operation '{}' uses a parameter of shape {} directly but has no "
              "per-sample rule; apply the parameter through linear, matmul (as right operand), "
              "embedding, conv2d or a broadcasting elementwise op",
              node->name, shape_str(in.shape())));
        throw std::logic_error(fmt::format("{}: operation '{}' returned gradient {} for operand {} of shape {}",
                                           who, node->name, shape_str(g_in[i].shape()), i,
                                           shape_str(expected)));
      }
      accumulate(grads, key, g_in[i]);
    }
  }
  if (!retain_graph)
    for (const std::shared_ptr<Node>& n : ran) {
      n->backward = nullptr;
      n->inputs.clear();
      n->released = true;
    }

  std::vector<Tensor> result;
  for (const Tensor& t : targets) {
    auto it = grads.find(t.impl_ptr().get());
    if (it != grads.end()) {
      result.push_back(it->second);
    } else {
      Shape s = t.shape();
      if (mode == Mode::PerSample) s.insert(s.begin(), batch);
      result.push_back(Tensor::zeros(s, t.dtype()));
    }
  }
  return result;
}

}  // namespace

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds, bool retain_graph) {
  run(outputs, seeds, retain_graph, Mode::Accumulate, {}, 0, "backward");
}

void Tensor::backward(const Tensor& seed, bool retain_graph) const {
  pathgrad::backward({*this}, {seed}, retain_graph);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& seeds, bool retain_graph, bool allow_unused) {
  for (const Tensor& in : inputs)
    if (!in.requires_grad()) throw std::invalid_argument("grad: an input does not require grad");
  std::vector<Tensor> result = run(outputs, seeds, retain_graph, Mode::Functional, inputs, 0, "grad");
  if (!allow_unused) {
    const std::vector<TensorImpl*> order = topological_order(outputs);
    for (size_t i = 0; i < inputs.size(); ++i)
      if (std::find(order.begin(), order.end(), inputs[i].impl_ptr().get()) == order.end())
        throw std::invalid_argument(fmt::format("grad: input {} is not used by the outputs", i));
  }
  return result;
}

std::vector<Tensor> per_sample_grad(const Tensor& losses, const std::vector<Tensor>& params,
                                    const Tensor& seeds, bool retain_graph) {
  if (losses.dim() != 1)
    throw std::invalid_argument("per_sample_grad: losses must be [B], got " + shape_str(losses.shape()));
  for (const Tensor& p : params)
    if (!p.requires_grad() || !p.is_leaf())
      throw std::invalid_argument("per_sample_grad: every parameter must be a leaf that requires grad");
  const Tensor seed = seeds.defined() ? seeds : Tensor::ones(losses.shape(), losses.dtype());
  return run({losses}, {seed}, retain_graph, Mode::PerSample, params, losses.size(0), "per_sample_grad");
}

Tensor record(Tensor result, const char* name, const std::vector<Tensor>& operands, Node::BackwardFn fn) {
  if (!g_grad_enabled) return result;
  bool any = false;
  for (const Tensor& op : operands) any = any || (op.defined() && op.requires_grad());
  if (!any) return result;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs.reserve(operands.size());
  for (const Tensor& op : operands) node->inputs.push_back(op.defined() && op.requires_grad() ? op : Tensor());
  node->backward = std::move(fn);
  // The result may be a view sharing storage with an operand; give it its own autograd identity.
  Tensor out = result.detach();
  out.impl().requires_grad = true;
  out.impl().grad_fn = std::move(node);
  return out;
}

}  // namespace pathgrad
