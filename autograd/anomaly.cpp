#include "anomaly.h"

#include <cmath>

#include "../core/error.h"

namespace tapegrad {

namespace {
thread_local bool anomaly_mode = false;

struct NonFinite {
    int64_t nan = 0, inf = 0;
};

NonFinite count_non_finite(const Tensor& t) {
    NonFinite count;
    for (double v : t.to_double_vector()) {
        count.nan += std::isnan(v);
        count.inf += std::isinf(v);
    }
    return count;
}

std::string where(const std::string& scope, int64_t tape_index) {
    std::string index = tape_index >= 0 ? fmt::format("tape #{}", tape_index) : std::string("not on the tape");
    return fmt::format("{}, scope '{}'", index, scope);
}
}  // namespace

DetectAnomaly::DetectAnomaly(bool enabled) : previous_(anomaly_mode) { anomaly_mode = enabled; }
DetectAnomaly::~DetectAnomaly() { anomaly_mode = previous_; }
bool anomaly_detection_enabled() { return anomaly_mode; }

void check_forward_anomaly(const char* op, const std::string& scope, int64_t tape_index, const Tensor& output) {
    if (!is_floating(output.dtype())) return;
    NonFinite bad = count_non_finite(output);
    if (bad.nan || bad.inf)
        fail("anomaly", "forward of op '{}' ({}) produced {} NaN, {} Inf in its output {}", op,
             where(scope, tape_index), bad.nan, bad.inf, output.describe());
}

void check_backward_anomaly(const Record& record, int64_t tape_index, size_t input, const Tensor& grad) {
    NonFinite bad = count_non_finite(grad);
    if (bad.nan || bad.inf)
        fail("anomaly", "backward of op '{}' ({}) produced {} NaN, {} Inf in the gradient of input {} ({})",
             record.op, where(record.scope, tape_index), bad.nan, bad.inf,
             input, record.inputs[input].describe());
}

}  // namespace tapegrad
