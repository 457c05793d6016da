// Module weights as safetensors files: save_weights / load_weights, the format a user opens from
// Python (numpy alone suffices, see docs/checkpoints.md) and the model part of a checkpoint.
//
// File contents: one tensor per entry of Module::state_dict() — every parameter and buffer under
// its dotted name ("fc1.weight", "layers.0.bias"), with its own dtype and shape — and the metadata
// {"format": "pathgrad", "module": Module::name()}. load_weights reads any safetensors file with
// the right names, shapes and dtypes (the metadata is informational and not required), e.g. one
// written by Python's safetensors.numpy.save_file.
#pragma once

#include <string>

#include "nn/module.hpp"

namespace pathgrad::nn {

// Writes `module`'s parameters and buffers to `path` atomically (tensor/atomic_file.hpp), creating
// missing parent directories. Throws std::runtime_error naming the file on I/O failure.
void save_weights(const Module& module, const std::string& path);

// Copies the tensors of the safetensors file `path` into `module`, in place (parameter handles
// keep their identity, as in Module::load_state_dict), and changes nothing unless every check
// passes. Names, shapes and dtypes must match exactly; with strict=false, missing and unexpected
// names are ignored. Throws std::runtime_error naming the file when it cannot be read or is not
// valid safetensors, and std::invalid_argument naming the file and listing every missing,
// unexpected, mis-shaped and mis-typed name otherwise.
void load_weights(Module& module, const std::string& path, bool strict = true);

}  // namespace pathgrad::nn
