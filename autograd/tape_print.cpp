#include "tape_print.h"

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
    // The columns of the records shown, then one line per record with each column as wide as
    // its widest entry.
    struct Line {
        size_t record;
        std::string scope, op, inputs, shape;
    };
    std::vector<Line> lines;
    size_t widths[4] = {1, 1, 1, 1};
    const auto& records = tape.records();
    for (size_t r = 0; r < records.size(); ++r) {
        const Record& rec = records[r];
        if (!scope_has_prefix(rec.scope, scope_prefix)) continue;
        std::string inputs;
        for (const Tensor& x : rec.inputs) {
            if (!inputs.empty()) inputs += ", ";
            inputs += x.is_leaf() ? "leaf" + to_string(x.shape()) : "#" + std::to_string(x.impl().record);
        }
        lines.push_back({r, rec.scope.empty() ? "-" : rec.scope, rec.op, inputs, to_string(rec.output.shape())});
        const Line& l = lines.back();
        widths[0] = std::max(widths[0], l.scope.size());
        widths[1] = std::max(widths[1], l.op.size());
        widths[2] = std::max(widths[2], l.inputs.size());
        widths[3] = std::max(widths[3], l.shape.size());
    }
    std::string out;
    for (const Line& l : lines) {
        const Record& rec = records[l.record];
        out += fmt::format("#{:<4} {:<{}}  {:<{}}  in: {:<{}}  out {:<{}}  {}", l.record, l.scope, widths[0], l.op,
                           widths[1], l.inputs, widths[2], l.shape, widths[3], value_stats(rec.output));
        if (rec.output.grad().defined()) out += "   grad " + value_stats(rec.output.grad());
        out += "\n";
    }
    return out;
}

}  // namespace tapegrad
