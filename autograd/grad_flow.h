/// \file
/// Gradient flow: how much gradient reaches each state of a recurrent model or tree.
///
///   Tape tape;  TapeGuard guard(tape);
///   Tensor loss = ...;                                          // e.g. an LSTM under NameScope("lstm")
///   GradFlowReport report = gradient_flow(loss, labelled_states(tape, "lstm/layer0/", {"h", "c"}));
///   report.norms[0][t]   // ‖∂L/∂h_t‖₂, report.norms[1][t]: ‖∂L/∂c_t‖₂
///
/// gradient_flow hooks every state tensor (a GradHook that reads the norm and passes the gradient
/// on unchanged), runs backward(loss) and returns the norms, in one call. A hook sees the complete
/// gradient of its tensor: the tape runs a record only after every use of its output has added to
/// it. States that no gradient reaches get norm 0.
///
/// Finding the states on the tape. Models label their ops by step and by what they compute
/// (autograd/tape.h, NameScope): an LSTM's t-th step runs under ".../t=3", and the ops making
/// its new state under ".../t=3/c" and ".../t=3/h". labelled_states() takes, for each step (a scope
/// component with '=' in it: "t=3", "level=2", see step_cluster) the output of the LAST record of
/// that step whose scope ends in "/c" (or "/h"): the state the next step reads. A step that
/// recomputes its state (QL-LSTM's block skip, padding masks, PR-LSTM's refinements) labels each
/// recomputation the same way, so the last one wins. Every recurrent model in models/ labels its
/// states this way, so the numbers come from the tape, not from a formula.
#pragma once
#include <string>
#include <vector>

#include "tape.h"

namespace tapegrad {

/// One kind of state along a model's steps (gradient_flow's input): its name and the tensors, one per step.
struct GradFlowSeries {
    std::string name;                ///< "h", "c"
    std::vector<std::string> steps;  ///< each state's step label, e.g. "t=3" or "level=2" (may be empty)
    std::vector<Tensor> states;      ///< e.g. h_0 .. h_{T-1}, each [B, H]
    /// -1: one norm per state (over all its elements). k >= 0: one norm per index along axis k,
    /// e.g. axis 1 of a tree level's states [B, nodes, H] gives one norm per node.
    int position_axis = -1;
};

/// The gradient norms gradient_flow measured, per series and entry.
struct GradFlowReport {
    /// Per series s, one entry per state (or per node of each state, with a position_axis):
    std::vector<std::string> names;               ///< the series' names
    std::vector<std::vector<std::string>> steps;  ///< steps[s][e]: the step label of entry e
    std::vector<std::vector<int64_t>> positions;  ///< positions[s][e]: index along position_axis (0 without)
    std::vector<std::vector<double>> norms;       ///< norms[s][e] = ‖∂L/∂(entry e)‖₂ (Frobenius)
};

/// The states labelled `names` (last scope component) in each step under `scope_prefix`, in tape
/// order of the steps. Throws if a step lacks one of the names.
std::vector<GradFlowSeries> labelled_states(const Tape& tape, const std::string& scope_prefix,
                                            const std::vector<std::string>& names, int position_axis = -1);

/// Runs backward(loss, options) and returns the gradient norm of every state in `series`.
GradFlowReport gradient_flow(const Tensor& loss, const std::vector<GradFlowSeries>& series,
                             const BackwardOptions& options = {});

}  // namespace tapegrad
