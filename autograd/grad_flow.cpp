#include "autograd/grad_flow.h"

#include <cmath>
#include <memory>

#include "core/error.h"

namespace tapegrad {

std::string GradFlowReport::csv() const {
    std::string out = "series,index,norm\n";
    for (size_t s = 0; s < names.size(); ++s)
        for (size_t k = 0; k < norms[s].size(); ++k) out += fmt::format("{},{},{:.9g}\n", names[s], k, norms[s][k]);
    return out;
}

GradFlowReport gradient_flow(const Tensor& loss, const std::vector<GradFlowSeries>& series,
                             const BackwardOptions& options) {
    // Shared with the hooks, which outlive this call on their tensors (they then write here unseen).
    auto report = std::make_shared<GradFlowReport>();
    for (size_t s = 0; s < series.size(); ++s) {
        report->names.push_back(series[s].name);
        report->norms.emplace_back(series[s].states.size(), 0.0);
        for (size_t k = 0; k < series[s].states.size(); ++k) {
            Tensor state = series[s].states[k];
            if (!state.defined()) fail("gradient_flow", "state {} of series '{}' is undefined", k, series[s].name);
            state.register_hook([report, s, k](const Tensor& grad) {
                double squares = 0;
                for (double v : grad.to_double_vector()) squares += v * v;
                report->norms[s][k] = std::sqrt(squares);
                return grad;
            });
        }
    }
    backward(loss, options);
    return *report;
}

}  // namespace tapegrad
