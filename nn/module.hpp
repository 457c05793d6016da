// nn::Module: the base of every layer and model — named parameters, buffers and child modules,
// train/eval mode, state dicts, dtype conversion and printing.
//
// A model is a Module that registers its parts in its constructor (libtorch's shape, without the
// holder/Impl split):
//
//   struct Net : nn::Module {
//     std::shared_ptr<nn::Linear> fc1, fc2;
//     Net() { fc1 = register_module("fc1", std::make_shared<nn::Linear>(784, 128));
//             fc2 = register_module("fc2", std::make_shared<nn::Linear>(128, 10)); }
//     Tensor forward(const Tensor& x) override { return fc2->forward(relu(fc1->forward(x))); }
//   };
//
// Names. Every parameter, buffer and child has a name unique within its module (non-empty, no '.').
// Recursive listings use dotted paths: "fc1.weight", "layers.0.bias". Order: a module's own
// parameters (or buffers) in registration order, then each child's, in registration order — the
// order of PyTorch's named_parameters() and state_dict().
//
// Tensors are handles (tensor/tensor.hpp): the Tensor a layer keeps as `weight`, the one in the
// module's slot and the ones returned by named_parameters() are the same tensor. Operations that
// change a parameter (load_state_dict, to, the init functions) change it in place, so every handle,
// including an optimizer's, sees the change.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tensor/tensor.hpp"

namespace pathgrad::nn {

class Module;
using NamedModules = std::vector<std::pair<std::string, std::shared_ptr<Module>>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Modules own their tensors' identities: copying one would silently share them. Hold modules
  // by std::shared_ptr (or by value, as the top-level model) instead.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The module applied to one tensor. The default throws std::logic_error naming the module's
  // type: modules whose input is not a single tensor declare their own forward.
  virtual Tensor forward(const Tensor& input);

  // ---- registration (call from the constructor) ----
  // Stores `tensor` (a floating-point leaf) under `name` and marks it requires_grad. Returns the
  // same handle, to keep as a member. Throws std::invalid_argument on an undefined, non-float or
  // non-leaf tensor and on a bad or duplicate name.
  Tensor register_parameter(const std::string& name, Tensor tensor);
  // Stores a tensor that is part of the state (state_dict, to()) but not trained, e.g. running
  // statistics or a fixed mask. Any dtype. Returns the same handle.
  Tensor register_buffer(const std::string& name, Tensor tensor);
  // Adds a child module whose parameters and buffers appear under "name.". Returns `module`.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module, M>, "register_module: M must derive from nn::Module");
    add_child(name, module);
    return module;
  }

  // ---- listings (recursive, dotted names, the order described above) ----
  // Every trainable parameter once: a tensor registered under several names (a module shared by
  // two parents) is listed under its first name only, so that optimizers step it once.
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  // The direct children, in registration order.
  NamedModules named_children() const;
  std::vector<std::shared_ptr<Module>> children() const;
  // Total number of scalars in named_parameters().
  int64_t num_parameters() const;

  // ---- mode ----
  // Sets training mode on this module and every descendant (Dropout is the mode-dependent layer).
  // Modules start in training mode.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Resets the gradient of every parameter to undefined (the next backward allocates it).
  void zero_grad();

  // ---- state ----
  // Every parameter and buffer under its dotted name (a shared tensor under each of its names).
  // The returned tensors share memory with the module but carry no autograd identity: clone them
  // to keep a snapshot that later training does not change.
  NamedTensors state_dict() const;
  // Copies values from `state` into the module's tensors, in place: parameter handles keep their
  // identity (optimizers hold them), and nothing is changed unless every check passes. Each
  // entry must match its tensor's shape and dtype exactly. With strict=true every key must be
  // present and no other key may appear; with strict=false missing and unexpected keys are
  // ignored (mismatched ones are still errors). Throws std::invalid_argument listing every
  // missing, unexpected, duplicate, mis-shaped and mis-typed key.
  void load_state_dict(const NamedTensors& state, bool strict = true);
  // Converts every floating-point parameter and buffer to `dtype` (Float32 or Float64), in place:
  // each tensor handle (the module's slot, a layer's member, any copy of it) then refers to the
  // converted values; integer buffers are left alone and gradients are cleared. Create optimizers
  // and build graphs *after* calling to(): state they hold (moment buffers, saved tensors) keeps
  // the old dtype.
  void to(DType dtype);

  // ---- printing ----
  // The module's type without namespaces, e.g. "Linear" (override for a different name).
  virtual std::string name() const;
  // The layer's configuration, shown in parentheses by to_string(), e.g. "in_features=4, ...".
  virtual std::string extra_repr() const { return ""; }
  // PyTorch-style tree: "Net(\n  (fc1): Linear(in_features=784, ...)\n ...)".
  std::string to_string() const;

 private:
  enum Kinds { kParameters = 1, kBuffers = 2 };
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name, const char* what) const;
  // Appends this module's tensors of the given kinds, then its children's, prefixed with `prefix`.
  void collect(const std::string& prefix, int kinds, NamedTensors& out) const;
  std::string to_string(int indent) const;

  NamedTensors parameters_, buffers_;
  NamedModules children_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& os, const Module& module);

}  // namespace pathgrad::nn
