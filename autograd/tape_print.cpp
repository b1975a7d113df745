#include "autograd/tape_print.h"

#include <algorithm>

namespace tapegrad {

std::string value_stats(const Tensor& t) {
    std::vector<double> v = t.to_double_vector();
    if (v.empty()) return "empty";
    if (v.size() == 1) return fmt::format("{:.4g}", v[0]);
    double lo = v[0], hi = v[0], total = 0;
    for (double x : v) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
        total += x;
    }
    return fmt::format("min {:.4g} mean {:.4g} max {:.4g}", lo, total / double(v.size()), hi);
}

std::string format_tape(const Tape& tape, const std::string& scope_prefix) {
    std::string out;
    const auto& records = tape.records();
    for (size_t r = 0; r < records.size(); ++r) {
        const Record& rec = records[r];
        if (rec.scope.compare(0, scope_prefix.size(), scope_prefix) != 0) continue;
        std::string inputs;
        for (const Tensor& x : rec.inputs) {
            if (!inputs.empty()) inputs += ", ";
            inputs += x.is_leaf() ? "leaf" + to_string(x.shape()) : "#" + std::to_string(x.impl().record);
        }
        out += fmt::format("#{:<4} {:<20} {:<14} in: {:<28} out {:<12} {}", r, rec.scope.empty() ? "-" : rec.scope,
                           rec.op, inputs, to_string(rec.output.shape()), value_stats(rec.output));
        if (rec.output.grad().defined()) out += "   grad " + value_stats(rec.output.grad());
        out += "\n";
    }
    return out;
}

}  // namespace tapegrad
