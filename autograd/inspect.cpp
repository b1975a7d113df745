#include "autograd/inspect.h"

#include <ostream>

#include <fmt/format.h>

namespace tapegrad {

void print_tape(std::ostream& os, const Tape& tape) {
    const std::vector<Record>& records = tape.records();
    for (size_t r = 0; r < records.size(); ++r) {
        const Record& rec = records[r];
        std::string inputs;
        for (const Tensor& x : rec.inputs) {
            if (!inputs.empty()) inputs += ", ";
            inputs += x.is_leaf() ? std::string("leaf") : fmt::format("#{}", x.impl().record);
        }
        os << fmt::format("#{:<4} {:<16} {:<16} inputs {:<18} -> {}\n", r, rec.scope.empty() ? "-" : rec.scope,
                          rec.op, inputs, to_string(rec.output.shape()));
    }
}

}  // namespace tapegrad
