// Gradient flow: how much gradient reaches each state of a recurrent model or tree.
//
//   GradFlowReport report = gradient_flow(loss, {{"h", hs}, {"c", cs}});
//   report.norms[0][t]   // ‖∂L/∂h_t‖₂
//
// One call hooks every state tensor (a GradHook that reads the norm and passes the gradient on
// unchanged), runs backward(loss) and returns the norms. The hook sees the complete gradient of
// its tensor: the tape runs a record only after every use of its output has added to it. States
// no gradient reaches get norm 0.
#pragma once
#include <string>
#include <vector>

#include "autograd/tape.h"

namespace tapegrad {

struct GradFlowSeries {
    std::string name;            // "h", "c", "level=2"
    std::vector<Tensor> states;  // e.g. h_0 .. h_{T-1}, each [B, H]
};

struct GradFlowReport {
    std::vector<std::string> names;
    std::vector<std::vector<double>> norms;  // norms[s][k] = ‖∂L/∂(series s, state k)‖₂ (Frobenius)
    // "series,index,norm" lines under that header.
    std::string csv() const;
};

GradFlowReport gradient_flow(const Tensor& loss, const std::vector<GradFlowSeries>& series,
                             const BackwardOptions& options = {});

}  // namespace tapegrad
