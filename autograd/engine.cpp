// The reverse-mode engine: iterative topological sort, gradient accumulation, graph release,
// functional and per-sample gradients.
#include "autograd/engine.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "autograd/per_sample_rules.hpp"
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
        if (in.defined() && visited.insert(in.impl_ptr().get()).second) stack.push_back({in.impl_ptr().get(), 0});
        continue;
      }
      order.push_back(f.t);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};
}

// True when `t` is the only handle to a contiguous buffer that holds nothing else: the engine
// may then update it in place or hand it over without copying.
bool exclusively_owned(const Tensor& t) {
  return t.impl_ptr().use_count() == 1 && t.storage().use_count() == 1 && t.is_contiguous() &&
         t.storage()->nbytes() == static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
}

void accumulate(std::unordered_map<TensorImpl*, Tensor>& grads, TensorImpl* key, const Tensor& g) {
  auto it = grads.find(key);
  if (it == grads.end()) {
    grads.emplace(key, g);
  } else if (exclusively_owned(it->second)) {
    kernel::add_(it->second, g);  // nobody else sees this buffer: add in place
  } else {
    it->second = kernel::add(it->second, g);
  }
}

Tensor default_seed(const Tensor& out, const char* who) {
  if (out.numel() != 1)
    throw std::invalid_argument(fmt::format(
        "{}: output of shape {} is not a single value; pass a seed of the same shape", who, shape_str(out.shape())));
  return Tensor::ones(out.shape(), out.dtype());
}

enum class Mode { Accumulate, Functional, PerSample };
using DirectionMap = std::unordered_map<const TensorImpl*, std::vector<Tensor>>;

// One backward pass, in stages: seed the outputs, order the graph and check it was not released,
// mark the tensors with a path to a target, then walk the order once — leaves receive their
// .grad (Accumulate mode), every other tensor runs its node's backward rule into its operands —
// release the graph and collect the targets' gradients (Functional and PerSample modes).
class BackwardPass {
 public:
  BackwardPass(Mode mode, const std::vector<Tensor>& targets, int64_t batch, int64_t rows, const char* who,
               const DirectionMap* directions)
      : mode_(mode), targets_(targets), batch_(batch), who_(who) {
    for (const Tensor& t : targets) target_set_.insert(t.impl_ptr().get());
    ctx_.per_sample = mode == Mode::PerSample;
    ctx_.batch = batch;
    ctx_.rows = rows;
    ctx_.directions = directions;
    if (ctx_.per_sample) ctx_.per_sample_leaves = &target_set_;
  }

  std::vector<Tensor> run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds, bool retain_graph) {
    seed(outputs, seeds);
    const std::vector<TensorImpl*> order = topological_order(outputs);
    check_not_released(order);
    mark_needed(order);
    for (TensorImpl* t : order) {
      if (!needed_.count(t)) continue;
      auto git = grads_.find(t);
      if (git == grads_.end()) continue;  // nothing flowed here
      if (t->grad_fn) {
        propagate(t, git);
      } else if (mode_ == Mode::Accumulate) {
        Tensor g = std::move(git->second);
        grads_.erase(git);
        accumulate_into_leaf(t, std::move(g));
      }
    }
    if (!retain_graph) release();
    return collect();
  }

 private:
  void seed(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds) {
    if (!seeds.empty() && seeds.size() != outputs.size())
      throw std::invalid_argument(fmt::format("{}: {} seeds for {} outputs", who_, seeds.size(), outputs.size()));
    for (size_t k = 0; k < outputs.size(); ++k) {
      const Tensor& out = outputs[k];
      if (!out.requires_grad())
        throw std::invalid_argument(fmt::format(
            "{}: output {} does not require grad (no operand of it was a parameter, or it was computed under "
            "NoGradGuard)",
            who_, k));
      const Tensor s = seeds.empty() || !seeds[k].defined() ? default_seed(out, who_) : seeds[k];
      if (s.shape() != out.shape() || s.dtype() != out.dtype())
        throw std::invalid_argument(fmt::format("{}: seed {} {} does not match output {} {}", who_,
                                                shape_str(s.shape()), dtype_name(s.dtype()), shape_str(out.shape()),
                                                dtype_name(out.dtype())));
      accumulate(grads_, out.impl_ptr().get(), s);
    }
  }

  void check_not_released(const std::vector<TensorImpl*>& order) const {
    for (TensorImpl* t : order)
      if (t->grad_fn && t->grad_fn->released)
        throw std::logic_error(
            fmt::format("{}: backward through the graph of '{}' a second time, but its saved values were already "
                        "freed; pass retain_graph=true to the first backward call",
                        who_, t->grad_fn->name));
  }

  // Only tensors with a path to a target need their rule run (all of them in Accumulate mode).
  void mark_needed(const std::vector<TensorImpl*>& order) {
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      TensorImpl* t = *it;
      bool need = mode_ == Mode::Accumulate || target_set_.count(t) > 0;
      if (!need && t->grad_fn)
        for (const Tensor& in : t->grad_fn->inputs)
          if (in.defined() && needed_.count(in.impl_ptr().get())) {
            need = true;
            break;
          }
      if (need) needed_.insert(t);
    }
  }

  // Accumulate mode: a leaf's gradient is added to its .grad (kept without a copy when it is a
  // fresh buffer nobody else sees).
  void accumulate_into_leaf(TensorImpl* t, Tensor g) const {
    if (g.shape() != t->shape)
      throw std::logic_error(
          fmt::format("{}: gradient {} for a leaf of shape {}", who_, shape_str(g.shape()), shape_str(t->shape)));
    if (t->grad) {
      Tensor acc(t->grad);
      kernel::add_(acc, g);
    } else if (exclusively_owned(g) && !g.requires_grad()) {
      t->grad = g.impl_ptr();
    } else {
      t->grad = g.clone().impl_ptr();
    }
  }

  // Runs the node that produced `t` on its gradient and accumulates what it returns into its
  // operands (those with a path to a target).
  void propagate(TensorImpl* t, std::unordered_map<TensorImpl*, Tensor>::iterator git) {
    Node* node = t->grad_fn.get();
    const Tensor g_out = git->second;
    if (!target_set_.count(t)) grads_.erase(git);
    const std::vector<Tensor> g_in = node_gradients(*node, g_out);
    ran_.push_back(t->grad_fn);
    for (size_t i = 0; i < node->inputs.size(); ++i) {
      if (!node->needs(i) || i >= g_in.size() || !g_in[i].defined()) continue;
      TensorImpl* key = node->inputs[i].impl_ptr().get();
      if (!needed_.count(key)) continue;
      check_operand_gradient(*node, i, g_in[i]);
      accumulate(grads_, key, g_in[i]);
    }
  }

  // The node's gradients for this pass: its ParamRule answers for every requested parameter that
  // has one (param_gradient), its ordinary rule for the other operands; the parameters' slots are
  // emptied while the ordinary rule runs, so it skips them (Node::needs).
  std::vector<Tensor> node_gradients(Node& node, const Tensor& g) const {
    std::vector<size_t> by_rule;
    for (size_t i = 0; i < node.param_rules.size(); ++i)
      if (node.param_rules[i].per_sample && node.per_sample(i, ctx_)) by_rule.push_back(i);
    if (by_rule.empty()) return node.backward(node, g, ctx_);
    std::vector<Tensor> out;
    {
      SlotsHidden hidden(node, by_rule);
      out = node.backward(node, g, ctx_);
    }
    out.resize(node.inputs.size());
    for (size_t i : by_rule) out[i] = param_gradient(node.param_rules[i], node.inputs[i], g, ctx_);
    return out;
  }

  // Empties some slots of a node for its lifetime, then puts the operands back.
  class SlotsHidden {
   public:
    SlotsHidden(Node& node, const std::vector<size_t>& slots) : node_(node), slots_(slots) {
      for (size_t i : slots_) operands_.push_back(std::exchange(node_.inputs[i], Tensor()));
    }
    ~SlotsHidden() {
      for (size_t k = 0; k < slots_.size(); ++k) node_.inputs[slots_[k]] = std::move(operands_[k]);
    }
    SlotsHidden(const SlotsHidden&) = delete;
    SlotsHidden& operator=(const SlotsHidden&) = delete;

   private:
    Node& node_;
    const std::vector<size_t>& slots_;
    std::vector<Tensor> operands_;
  };

  // The gradient of operand i must have its shape — with a leading batch dimension for a
  // per-sample leaf, [batch, directions] for a contracted one.
  void check_operand_gradient(const Node& node, size_t i, const Tensor& g) const {
    const Tensor& in = node.inputs[i];
    const bool per_sample = node.per_sample(i, ctx_);
    Shape expected = in.shape();
    if (per_sample && ctx_.contract())
      expected = {batch_, static_cast<int64_t>(ctx_.directions_for(in).size())};
    else if (per_sample)
      expected.insert(expected.begin(), batch_);
    if (g.shape() == expected) return;
    if (ctx_.per_sample && per_sample)
      throw std::invalid_argument(
          fmt::format("per_sample_grad: operation '{}' uses a parameter of shape {} directly but has no "
                      "per-sample rule; apply the parameter through linear, matmul (as right operand), "
                      "embedding, conv2d or a broadcasting elementwise op",
                      node.name, shape_str(in.shape())));
    throw std::logic_error(fmt::format("{}: operation '{}' returned gradient {} for operand {} of shape {}", who_,
                                       node.name, shape_str(g.shape()), i, shape_str(expected)));
  }

  // Frees the saved values of every node that ran.
  void release() {
    for (const std::shared_ptr<Node>& n : ran_) {
      n->backward = nullptr;
      n->inputs.clear();
      n->released = true;
    }
  }

  // The targets' gradients; zeros (of the mode's shape) for a target nothing flowed to.
  std::vector<Tensor> collect() const {
    std::vector<Tensor> result;
    for (const Tensor& t : targets_) {
      auto it = grads_.find(t.impl_ptr().get());
      if (it != grads_.end()) {
        result.push_back(it->second);
        continue;
      }
      Shape s = t.shape();
      if (ctx_.directions)
        s = {batch_, static_cast<int64_t>(ctx_.directions->at(t.impl_ptr().get()).size())};
      else if (mode_ == Mode::PerSample)
        s.insert(s.begin(), batch_);
      result.push_back(Tensor::zeros(s, t.dtype()));
    }
    return result;
  }

  Mode mode_;
  const std::vector<Tensor>& targets_;
  int64_t batch_;
  const char* who_;
  std::unordered_set<TensorImpl*> target_set_, needed_;
  std::unordered_map<TensorImpl*, Tensor> grads_;
  BackwardContext ctx_;
  std::vector<std::shared_ptr<Node>> ran_;  // owning: releasing one node may drop another
};

// Runs the backward pass. In Functional/PerSample mode returns the gradients of `targets`.
std::vector<Tensor> run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds, bool retain_graph,
                        Mode mode, const std::vector<Tensor>& targets, int64_t batch, const char* who,
                        const DirectionMap* directions = nullptr, int64_t rows = 0) {
  return BackwardPass(mode, targets, batch, rows, who, directions).run(outputs, seeds, retain_graph);
}

}  // namespace

Node::~Node() {
  // Unlink the graph below this node before it is destroyed: an input that only this node keeps
  // alive hands its own node's inputs to `pending` first, so every node dies with no inputs left
  // and no destructor ever recurses into another.
  std::vector<Tensor> pending = std::move(inputs);
  while (!pending.empty()) {
    Tensor t = std::move(pending.back());
    pending.pop_back();
    if (!t.defined() || t.impl_ptr().use_count() != 1) continue;  // still alive elsewhere
    const std::shared_ptr<Node>& fn = t.impl().grad_fn;
    if (fn && fn.use_count() == 1) {
      for (Tensor& in : fn->inputs) pending.push_back(std::move(in));
      fn->inputs.clear();
    }
  }  // each `t` is destroyed here, with a node that no longer holds anything
}

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
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i].requires_grad())
      throw std::invalid_argument(
          fmt::format("grad: input {} (shape {}) does not require grad", i, shape_str(inputs[i].shape())));
  if (!allow_unused) {  // checked before the pass, which may release the graph
    const std::vector<TensorImpl*> order = topological_order(outputs);
    const std::unordered_set<TensorImpl*> reached(order.begin(), order.end());
    for (size_t i = 0; i < inputs.size(); ++i)
      if (!reached.count(inputs[i].impl_ptr().get()))
        throw std::invalid_argument(
            fmt::format("grad: input {} (shape {}) is not used by the outputs", i, shape_str(inputs[i].shape())));
  }
  return run(outputs, seeds, retain_graph, Mode::Functional, inputs, 0, "grad");
}

std::vector<Tensor> per_sample_grad(const Tensor& losses, const std::vector<Tensor>& params, const Tensor& seeds,
                                    bool retain_graph, int64_t rows_per_sample) {
  if (losses.dim() != 1)
    throw std::invalid_argument("per_sample_grad: losses must be [B], got " + shape_str(losses.shape()));
  if (rows_per_sample < 1 || losses.size(0) % rows_per_sample != 0)
    throw std::invalid_argument(fmt::format("per_sample_grad: {} rows per sample do not divide the batch of {} rows",
                                            rows_per_sample, losses.size(0)));
  for (const Tensor& p : params)
    if (!p.requires_grad() || !p.is_leaf())
      throw std::invalid_argument("per_sample_grad: every parameter must be a leaf that requires grad");
  const Tensor seed = seeds.defined() ? seeds : Tensor::ones(losses.shape(), losses.dtype());
  return run({losses}, {seed}, retain_graph, Mode::PerSample, params, losses.size(0) / rows_per_sample,
             "per_sample_grad", nullptr, losses.size(0));
}

std::vector<Tensor> per_sample_grad_dot(const Tensor& losses, const std::vector<Tensor>& params,
                                        const std::vector<std::vector<Tensor>>& directions, const Tensor& seeds,
                                        bool retain_graph) {
  if (losses.dim() != 1)
    throw std::invalid_argument("per_sample_grad_dot: losses must be [B], got " + shape_str(losses.shape()));
  if (directions.size() != params.size())
    throw std::invalid_argument(
        fmt::format("per_sample_grad_dot: {} direction lists for {} parameters", directions.size(), params.size()));
  DirectionMap map;
  for (size_t p = 0; p < params.size(); ++p) {
    if (!params[p].requires_grad() || !params[p].is_leaf())
      throw std::invalid_argument("per_sample_grad_dot: every parameter must be a leaf that requires grad");
    for (const Tensor& d : directions[p])
      if (d.shape() != params[p].shape() || d.dtype() != params[p].dtype())
        throw std::invalid_argument(fmt::format("per_sample_grad_dot: direction {} {} for parameter {} {}",
                                                shape_str(d.shape()), dtype_name(d.dtype()),
                                                shape_str(params[p].shape()), dtype_name(params[p].dtype())));
    map[params[p].impl_ptr().get()] = directions[p];
  }
  const Tensor seed = seeds.defined() ? seeds : Tensor::ones(losses.shape(), losses.dtype());
  return run({losses}, {seed}, retain_graph, Mode::PerSample, params, losses.size(0), "per_sample_grad_dot", &map,
             losses.size(0));
}

Tensor BackwardContext::sum_rows(const Tensor& t) const {
  if (rows == batch) return t;
  Shape grouped = t.shape();
  grouped[0] = rows / batch;
  grouped.insert(grouped.begin(), batch);
  return kernel::sum(kernel::reshape(t.contiguous(), grouped), {1});
}

const std::vector<Tensor>& BackwardContext::directions_for(const Tensor& leaf) const {
  static const std::vector<Tensor> none;
  if (!directions) return none;
  auto it = directions->find(leaf.impl_ptr().get());
  return it == directions->end() ? none : it->second;
}

Tensor record(Tensor result, const char* name, const std::vector<Tensor>& operands, Node::BackwardFn fn,
              std::vector<ParamRule> param_rules) {
  if (!g_grad_enabled) return result;
  bool any = false;
  for (const Tensor& op : operands) any = any || (op.defined() && op.requires_grad());
  if (!any) return result;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs.reserve(operands.size());
  for (const Tensor& op : operands) node->inputs.push_back(op.defined() && op.requires_grad() ? op : Tensor());
  node->backward = std::move(fn);
  node->param_rules = std::move(param_rules);
  // The result may be a view sharing storage with an operand; give it its own autograd identity.
  Tensor out = result.detach();
  out.impl().requires_grad = true;
  out.impl().grad_fn = std::move(node);
  return out;
}

}  // namespace pathgrad
