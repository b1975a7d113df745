/// \file
/// The tape as text: one line per record, a Wengert list.
///
///   #3    mlp/layer1  tanh  in: #2  out [64, 32]  min -0.99 mean 0.01 max 0.99
///
/// Inputs are shown as the record that produced them (#2) or as a leaf with its shape. Records
/// whose output holds a gradient also show its statistics: after
/// backward(loss, {.keep_tape = true, .retain_grads = true}) that is every record that the loss
/// depends on, and while a BackwardStepper runs, every record it has stepped through.
#pragma once
#include <string>

#include "tape.h"

namespace tapegrad {

/// "min -0.99 mean 0.01 max 0.99" of a tensor's values (any dtype, any device); "0.7071" for one value.
std::string value_stats(const Tensor& t);

/// The tape's records whose scope starts with `scope_prefix` ("" = all).
std::string format_tape(const Tape& tape, const std::string& scope_prefix = "");

}  // namespace tapegrad
