/// \file
/// The tape as a Graphviz graph, micrograd style: a box per tensor showing its shape, its values
/// (min/mean/max) and, once backward has filled it, its gradient; an ellipse per op between its
/// inputs and its output. Colours: parameters (leaves that require grad) green, constants grey,
/// intermediates blue, gradient rows orange. Records whose scope has a component like "t=3" or
/// "level=2" are drawn inside one cluster per such step ("lstm/t=3").
///
///   std::ofstream("tape.dot") << to_dot(tape, {.scope_prefix = "lstm/t=3"});
///   $ dot -Tsvg tape.dot -o tape.svg
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "tape.h"

namespace tapegrad {

/// What to_dot draws and how it names tensors.
struct DotOptions {
    std::string scope_prefix;                           ///< only records in scopes starting with this
    std::vector<std::pair<Tensor, std::string>> names;  ///< labels for tensors, e.g. {W, "W1"}
};

/// The cluster a scope belongs to: its path up to the first component containing '=' ("lstm/t=3"
/// for "lstm/t=3/forget_gate"), or "" when it has none.
std::string step_cluster(const std::string& scope);

/// The tape as a Graphviz DOT graph: one node per record and leaf, parameters green, intermediates blue, gradients orange; records outside `scope_prefix` dashed; one cluster per step (step_cluster).
std::string to_dot(const Tape& tape, const DotOptions& options = {});

}  // namespace tapegrad
