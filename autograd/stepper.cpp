#include "stepper.h"

#include <cctype>

#include "../core/error.h"

namespace tapegrad {

std::vector<std::string> formula_inputs(const std::string& formula) {
    auto is_word_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    std::vector<std::string> names;
    size_t start = 0;
    while (start < formula.size()) {
        size_t end = formula.find(';', start);
        if (end == std::string::npos) end = formula.size();
        const size_t term = formula.find_first_not_of(' ', start);
        if (term < end && formula.compare(term, 4, "dL/d") == 0) {
            size_t name_end = term + 4;
            while (name_end < end && is_word_char(formula[name_end])) ++name_end;
            const size_t plus = formula.find("+=", name_end);
            if (name_end > term + 4 && plus < end) names.push_back(formula.substr(term + 4, name_end - term - 4));
        }
        start = end + 1;
    }
    return names;
}

namespace {
Tensor host_copy(const Tensor& t) { return Tensor::from_vector(t.to_double_vector(), t.shape()); }

Tensor difference(const Tensor& after, const Tensor& before) {
    std::vector<double> values = after.to_double_vector();
    if (before.defined()) {
        std::vector<double> old = before.to_double_vector();
        for (size_t k = 0; k < values.size(); ++k) values[k] -= old[k];
    }
    return Tensor::from_vector(values, after.shape());
}
}  // namespace

BackwardStepper::BackwardStepper(const Tensor& output, const Tensor& seed)
    : pass_(output, BackwardOptions{seed, /*keep_tape=*/true, /*retain_grads=*/true}) {}

const BackwardStep& BackwardStepper::step() {
    if (done()) fail("BackwardStepper", "step() called after the last record");
    const int64_t r = pass_.next();
    const Record& rec = pass_.record(r);
    // The gradients before the step, to show what it adds (the pass accumulates in place).
    std::vector<Tensor> before(rec.inputs.size());
    for (size_t i = 0; i < rec.inputs.size(); ++i) {
        Tensor g = pass_.in_flight(rec.inputs[i]);
        if (g.defined()) before[i] = host_copy(g);
    }
    Tensor grad_output = pass_.step();
    last_ = BackwardStep{r, rec.op, rec.scope, rec.formula, &rec, grad_output, {}, {}};
    for (size_t i = 0; i < rec.inputs.size(); ++i) {
        Tensor after = rec.inputs[i].requires_grad() ? pass_.in_flight(rec.inputs[i]) : Tensor();
        last_.grad_inputs.push_back(after.defined() ? host_copy(after) : Tensor());
        last_.added.push_back(after.defined() ? difference(after, before[i]) : Tensor());
    }
    return last_;
}

void BackwardStepper::run_to(int64_t index) {
    while (!done() && next() > index) step();
}

void BackwardStepper::run_to(const std::string& scope_prefix) {
    while (!done() && pass_.record(next()).scope.compare(0, scope_prefix.size(), scope_prefix) != 0) step();
}

void BackwardStepper::finish() {
    if (finished_) return;
    while (!done()) step();
    pass_.finish();
    finished_ = true;
}

}  // namespace tapegrad
