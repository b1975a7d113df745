#include "stepper.h"

#include <algorithm>
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

// Levenshtein distance: the fewest one-character insertions, deletions and substitutions
// that turn a into b.
size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);  // row[j]: distance from a[0, i) to b[0, j)
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            diagonal = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
        }
    }
    return row[b.size()];
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
    // Rule: a prefix that no record still to run has is a mistake (a typo, or a scope backward
    // has passed), not a request to run to the end. The records still to run: those a gradient
    // has reached, and, walking down the tape, the inputs of those.
    std::vector<bool> to_run(size_t(next() + 1), false);
    std::vector<std::string> scopes;  // theirs, distinct, in the order backward meets them
    for (int64_t r = next(); r >= 0; --r) {
        const Record& rec = pass_.record(r);
        if (!to_run[size_t(r)] && !pass_.in_flight(rec.output).defined()) continue;
        if (scope_has_prefix(rec.scope, scope_prefix)) {
            // (done() only if a backward left an input that requires grad without one)
            while (!done() && !scope_has_prefix(pass_.record(next()).scope, scope_prefix)) step();
            return;
        }
        if (std::find(scopes.begin(), scopes.end(), rec.scope) == scopes.end()) scopes.push_back(rec.scope);
        for (const Tensor& input : rec.inputs)
            if (input.requires_grad() && !input.is_leaf()) to_run[size_t(input.impl().record)] = true;
    }
    if (scopes.empty()) fail("BackwardStepper", "run_to('{}'): every record has run", scope_prefix);
    // The nearest scope, compared over the prefix's length (a prefix names a whole subtree).
    auto distance = [&](const std::string& scope) { return edit_distance(scope_prefix, scope.substr(0, scope_prefix.size())); };
    const std::string nearest = *std::min_element(scopes.begin(), scopes.end(), [&](const std::string& a, const std::string& b) {
        return distance(a) < distance(b);
    });
    constexpr size_t kListed = 8;
    std::string listed;
    for (size_t k = 0; k < std::min(kListed, scopes.size()); ++k) listed += fmt::format("{}'{}'", k ? ", " : "", scopes[k]);
    if (scopes.size() > kListed) listed += fmt::format(", ... ({} in all)", scopes.size());
    fail("BackwardStepper", "run_to('{}'): no record still to run has a scope starting with it (nearest: '{}'); "
         "the scopes still to run, from the next record back: {}", scope_prefix, nearest, listed);
}

void BackwardStepper::finish() {
    if (finished_) return;
    while (!done()) step();
    pass_.finish();
    finished_ = true;
}

}  // namespace tapegrad
