// The whole of nn/ in one include: Module, layers, attention, losses, initialisation.
#pragma once

#include "nn/activation.hpp"
#include "nn/attention.hpp"
#include "nn/container.hpp"
#include "nn/conv.hpp"
#include "nn/dropout.hpp"
#include "nn/embedding.hpp"
#include "nn/init.hpp"
#include "nn/layer_norm.hpp"
#include "nn/linear.hpp"
#include "nn/loss.hpp"
#include "nn/module.hpp"
#include "nn/pooling.hpp"
