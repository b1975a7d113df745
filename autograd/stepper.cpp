#include "autograd/stepper.h"

#include <map>

#include "core/error.h"

namespace tapegrad {

std::string backward_formula(const std::string& op) {
    // x, a, b: inputs; y: output; ⊙: elementwise product; broadcast inputs sum the gradient back
    // over their broadcast axes.
    static const std::map<std::string, std::string> formulas = {
        {"neg", "dL/dx += −dL/dy"},
        {"exp", "dL/dx += dL/dy ⊙ y"},
        {"log", "dL/dx += dL/dy / x"},
        {"tanh", "dL/dx += dL/dy ⊙ (1 − y²)"},
        {"sigmoid", "dL/dx += dL/dy ⊙ y ⊙ (1 − y)"},
        {"relu", "dL/dx += dL/dy ⊙ [x > 0]"},
        {"sqrt", "dL/dx += dL/dy / (2 y)"},
        {"pow", "dL/dx += dL/dy ⊙ p x^(p−1)"},
        {"add_scalar", "dL/dx += dL/dy"},
        {"mul_scalar", "dL/dx += s dL/dy"},
        {"add", "dL/da += dL/dy;  dL/db += dL/dy"},
        {"sub", "dL/da += dL/dy;  dL/db += −dL/dy"},
        {"mul", "dL/da += dL/dy ⊙ b;  dL/db += dL/dy ⊙ a"},
        {"div", "dL/da += dL/dy / b;  dL/db += −dL/dy ⊙ a / b²"},
        {"addcmul", "dL/da += dL/dy;  dL/db += dL/dy ⊙ c;  dL/dc += dL/dy ⊙ b"},  // y = a + b ⊙ c
        {"bce_with_logits", "dL/dz += dL/dy ⊙ (σ(z) − t)"},
        {"matmul", "dL/dA += dL/dY Bᵀ;  dL/dB += Aᵀ dL/dY"},
        {"linear", "dL/dx += dL/dy W;  dL/dW += dL/dyᵀ x;  dL/db += Σ_batch dL/dy"},
        {"recurrent_linear", "dL/da += dL/dz;  dL/dh += dL/dz U;  dL/dz saved into dZ for dL/dU"},
        {"recurrent_weight", "dL/dU += dZᵀ H (all steps in one GEMM)"},
        {"sum", "dL/dx += dL/dy (broadcast back over the summed axes)"},
        {"mean", "dL/dx += dL/dy / n (broadcast back over the averaged axes)"},
        {"max", "dL/dx[argmax] += dL/dy"},
        {"softmax", "dL/dx += y ⊙ (dL/dy − Σ dL/dy ⊙ y)"},
        {"log_softmax", "dL/dx += dL/dy − softmax(x) Σ dL/dy"},
        {"cross_entropy", "dL/dz += dL/dy (softmax(z) − onehot(t)) / B"},
        {"dropout", "dL/dx += dL/dy ⊙ mask / (1 − p)"},
        {"reshape", "dL/dx += reshape(dL/dy, shape of x)"},
        {"select", "dL/dx[index] += dL/dy"},
        {"split", "dL/dx += [dL/dy_0, dL/dy_1, ...] along the axis (the pieces' gradients, zeros where none came)"},
        {"permute", "dL/dx += permute(dL/dy, inverse permutation)"},
        {"slice", "dL/dx[window] += dL/dy"},
        {"concat", "dL/dx_i += dL/dy[block i]"},
        {"index_select", "dL/dx[index[j]] += dL/dy[j]"},
        {"gather", "dL/dx[index[j]] += dL/dy[j]"},
        {"to_dtype", "dL/dx += cast(dL/dy)"},
        {"to_device", "dL/dx += copy(dL/dy)"},
    };
    auto it = formulas.find(op);
    return it == formulas.end() ? "dL/d(inputs) += (backward of " + op + ")" : it->second;
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
    last_ = BackwardStep{r, rec.op, rec.scope, backward_formula(rec.op), &rec, grad_output, {}, {}};
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
