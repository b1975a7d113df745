#include "grad_flow.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "dot_export.h"
#include "../core/error.h"

namespace tapegrad {

std::vector<GradFlowSeries> labelled_states(const Tape& tape, const std::string& scope_prefix,
                                            const std::vector<std::string>& names, int position_axis) {
    // step cluster ("lstm/layer0/t=3") -> index of the last record per name; clusters in tape order.
    std::vector<std::string> clusters;
    std::map<std::string, std::vector<int64_t>> last;
    const auto& records = tape.records();
    for (size_t r = 0; r < records.size(); ++r) {
        const std::string& scope = records[r].scope;
        if (!scope_has_prefix(scope, scope_prefix)) continue;
        const std::string cluster = step_cluster(scope);
        if (cluster.empty()) continue;
        const std::string label = scope.substr(scope.rfind('/') + 1);
        for (size_t n = 0; n < names.size(); ++n) {
            if (label != names[n] || scope.size() == cluster.size()) continue;
            auto [it, inserted] = last.emplace(cluster, std::vector<int64_t>(names.size(), -1));
            if (inserted) clusters.push_back(cluster);
            it->second[n] = int64_t(r);
        }
    }
    if (clusters.empty())
        fail("labelled_states", "no record under scope '{}' is labelled '{}' inside a step (a scope like "
             "'t=3' or 'level=2')", scope_prefix, fmt::join(names, "' or '"));

    std::vector<GradFlowSeries> series(names.size());
    for (size_t n = 0; n < names.size(); ++n) {
        series[n].name = names[n];
        series[n].position_axis = position_axis;
        for (const std::string& cluster : clusters) {
            const int64_t r = last[cluster][n];
            if (r < 0) fail("labelled_states", "step '{}' has no record labelled '{}'", cluster, names[n]);
            series[n].steps.push_back(cluster.substr(cluster.rfind('/') + 1));
            series[n].states.push_back(records[r].output);
        }
    }
    return series;
}

namespace {
// sqrt(Σ v²) without underflow: deep in a long sequence a gradient's entries are ~1e-200, whose
// squares are below the smallest double. Scale by the largest |v| first, as BLAS's nrm2 does.
double scaled_norm(const std::vector<double>& values) {
    double largest = 0;
    for (double v : values) largest = std::max(largest, std::abs(v));
    if (largest == 0 || !std::isfinite(largest)) return largest;
    double squares = 0;
    for (double v : values) squares += (v / largest) * (v / largest);
    return largest * std::sqrt(squares);
}

// ‖g‖₂ over everything (axis < 0) or one norm per index along `axis`.
std::vector<double> norms_of(const Tensor& grad, int axis) {
    const std::vector<double> values = grad.to_double_vector();
    if (axis < 0) return {scaled_norm(values)};
    // grad viewed as [outer, n, inner] around the axis.
    const Shape& shape = grad.shape();
    int64_t outer = 1, inner = 1, n = shape[axis];
    for (int k = 0; k < axis; ++k) outer *= shape[k];
    for (int k = axis + 1; k < grad.dim(); ++k) inner *= shape[k];
    std::vector<double> norms(n);
    std::vector<double> position(outer * inner);
    for (int64_t j = 0; j < n; ++j) {
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t i = 0; i < inner; ++i) position[o * inner + i] = values[(o * n + j) * inner + i];
        norms[j] = scaled_norm(position);
    }
    return norms;
}
}  // namespace

GradFlowReport gradient_flow(const Tensor& loss, const std::vector<GradFlowSeries>& series,
                             const BackwardOptions& options) {
    // Shared with the hooks, which stay on their tensors after this call (they then write here unseen).
    auto report = std::make_shared<GradFlowReport>();
    for (size_t s = 0; s < series.size(); ++s) {
        report->names.push_back(series[s].name);
        report->steps.emplace_back();
        report->positions.emplace_back();
        report->norms.emplace_back();
        for (size_t k = 0; k < series[s].states.size(); ++k) {
            Tensor state = series[s].states[k];
            if (!state.defined()) fail("gradient_flow", "state {} of series '{}' is undefined", k, series[s].name);
            const int axis = series[s].position_axis;
            if (axis >= state.dim())
                fail("gradient_flow", "series '{}' asks for norms along axis {}, but state {} is {}", series[s].name,
                     axis, k, state.describe());
            const std::string step = k < series[s].steps.size() ? series[s].steps[k] : std::to_string(k);
            const int64_t count = axis < 0 ? 1 : state.shape()[axis];
            const size_t first = report->norms[s].size();
            for (int64_t j = 0; j < count; ++j) {
                report->steps[s].push_back(step);
                report->positions[s].push_back(j);
                report->norms[s].push_back(0.0);
            }
            state.register_hook([report, s, first, axis](const Tensor& grad) {
                std::vector<double> norms = norms_of(grad, axis);
                std::copy(norms.begin(), norms.end(), report->norms[s].begin() + first);
                return grad;
            });
        }
    }
    backward(loss, options);
    return *report;
}

}  // namespace tapegrad
