#include "recurrent_linear.h"

#include "../autograd/tape.h"
#include "../ops/op_utils.h"

namespace tapegrad {

namespace {
// Throws unless x is floating point like the weight and on its device.
void check_like_weight(const char* op, const Tensor& x, const Tensor& weight) {
    check_floating(op, x);
    check_same_dtype_device(op, {x, weight});
}
}  // namespace

// z_t = A_t + b + h_t U^T, dL/dU and dL/dA after the loop (the math in recurrent_linear.h).
struct RecurrentLinear::State {
    Tensor weight;       // U [G, K]
    Tensor added;        // A [T, N, G] or undefined
    Tensor bias;         // b [G] or undefined
    Tensor weight_view;  // U as the output of the "recurrent_weight" record; every step's input
    PackedMatrix forward_weight;   // U^T [K, G], prepared once: z_t = A_t + h_t U^T at every step
    PackedMatrix backward_weight;  // U [G, K], prepared by the first step backward: dh_t += dz_t U
    int64_t capacity = 0, steps = 0, rows = -1, gates = 1;
    Tensor inputs;                // H [T, N, K]: h_t, saved by step t
    Tensor output_grads;          // dZ [T, N, G]: dL/dz_t, saved by step t's backward
    std::vector<bool> has_grad;   // step t's backward ran (steps off the path to the loss do not)
};

RecurrentLinear::RecurrentLinear(const Tensor& weight, const Tensor& added, const Tensor& bias, int64_t steps,
                                 int64_t gates)
    : state_(std::make_shared<State>()) {
    const char* op = "recurrent_linear";
    check_floating(op, weight);
    if (weight.dim() != 2) fail(op, "expected a weight [G, K], got {}", weight.describe());
    if (steps < 0) fail(op, "steps must be >= 0, got {}", steps);
    const int64_t g = weight.shape()[0];
    if (gates < 1 || g % gates != 0)
        fail(op, "cannot cut the weight's {} outputs into {} gates (weight {})", g, gates, weight.describe());
    State& s = *state_;
    if (added.defined()) {
        check_like_weight(op, added, weight);
        if (added.dim() != 3 || added.shape()[0] != steps || added.shape()[2] != g)
            fail(op, "the per-step term is {} (expected [{}, N, {}] for {} steps)", added.describe(), steps, g, steps);
        s.rows = added.shape()[1];
    }
    if (bias.defined()) {
        check_like_weight(op, bias, weight);
        if (bias.shape() != Shape{g}) fail(op, "the bias is {} (expected [{}])", bias.describe(), g);
    }
    s.weight = weight;
    s.added = added;
    s.bias = bias;
    s.capacity = steps;
    s.gates = gates;
    s.has_grad.assign(steps, false);
    s.weight_view = alias_with_shape(weight, weight.shape());
    s.forward_weight = kernels(weight).pack_matrix(weight, /*transpose=*/true, gates);
    std::vector<Tensor> inputs = {weight};
    if (added.defined()) inputs.push_back(added);
    if (bias.defined()) inputs.push_back(bias);
    // Runs after every step's record. The gradient handed in is the zeros the steps put there only
    // to mark this record as reached.
    static const char* const formulas[2][2] = {  // [has A][has b]
        {"dL/dU += Σ_t dL/dz_tᵀ h_t", "dL/dU += Σ_t dL/dz_tᵀ h_t;  dL/db += Σ_t Σ_rows dL/dz_t"},
        {"dL/dU += Σ_t dL/dz_tᵀ h_t;  dL/dA_t += dL/dz_t",
         "dL/dU += Σ_t dL/dz_tᵀ h_t;  dL/dA_t += dL/dz_t;  dL/db += Σ_t Σ_rows dL/dz_t"}};
    const char* formula = formulas[added.defined()][bias.defined()];
    record("recurrent_weight", formula, inputs, s.weight_view, [state = state_](const Tensor&, InputGrads& gx) {
        State& s = *state;
        if (!s.output_grads.defined()) return;  // no step's backward ran
        Tensor dz = s.output_grads;              // dZ [T, N, G]
        s.output_grads = Tensor();               // a later backward pass (keep_tape) starts afresh
        const int64_t n = s.rows, g = s.weight.shape()[0], k = s.weight.shape()[1];
        for (int64_t t = 0; t < s.capacity; ++t) {
            if (s.has_grad[t]) continue;
            Tensor block = alias_with_shape(dz, {n, g}, t * n * g);
            kernels(block).fill(block, 0.0);
        }
        into(gx, 0, [&](Tensor& gu, double beta) { gemm(true, false, dz, s.inputs, gu, g, k, s.steps * n, beta); });
        if (s.bias.defined()) gx.add(s.added.defined() ? 2 : 1, dz);  // dL/db: dZ summed over T and N
        if (s.added.defined()) gx.add(1, dz);                          // dL/dA = dZ, last: it may take dZ over
        s.backward_weight = PackedMatrix();
        s.has_grad.assign(s.capacity, false);
    });
}

Tensor RecurrentLinear::step(const Tensor& h) {
    const char* op = "recurrent_linear";
    State& s = *state_;
    check_like_weight(op, h, s.weight);
    const int64_t g = s.weight.shape()[0], k = s.weight.shape()[1];
    if (h.dim() != 2 || h.shape()[1] != k)
        fail(op, "h is {} but the weight is {} (expected h [N, {}])", h.describe(), s.weight.describe(), k);
    const int64_t n = h.shape()[0];
    if (s.rows >= 0 && n != s.rows)
        fail(op, "h is {} but the added terms or earlier steps have {} rows", h.describe(), s.rows);
    if (s.steps == s.capacity)
        fail(op, "step {} is past the {} steps this product was made for", s.steps + 1, s.capacity);
    s.rows = n;
    const int64_t t = s.steps++;
    const bool per_step = s.added.defined();

    // z_t [N, G], or gate-major [gates, N, G / gates]: the prepared product writes each gate as one
    // contiguous block, reading A_t in its own [N, G] layout.
    const int64_t gates = s.gates, width = g / gates;
    Tensor z = empty_like(h, gates == 1 ? Shape{n, g} : Shape{gates, n, width});
    const void* added_t = per_step ? alias_with_shape(s.added, {n, g}, t * n * g).raw_data() : nullptr;
    kernels(h).gemm_packed(h, s.forward_weight, added_t, s.bias, 0.0, z);
    if (s.weight_view.requires_grad()) {
        if (!s.inputs.defined()) s.inputs = empty_like(h, {s.capacity, n, k});
        kernels(h).copy_within(alias_with_shape(s.inputs, {n, k}, t * n * k).raw_data(), h.raw_data(),
                               h.numel() * dtype_size(h.dtype()));
    }

    record(op, "dL/dh += dL/dz U;  dL/dU += 0 (dL/dz is saved: the recurrent_weight record adds Σ_t dL/dz_tᵀ h_t)", {h, s.weight_view}, z,
           [state = state_, t](const Tensor& gy, InputGrads& gx) {
        State& s = *state;
        const int64_t n = s.rows, g = s.weight.shape()[0], gates = s.gates;
        // dL/dz_t in the [N, G] layout: saved into dZ (for dL/dU and dL/dA) when U needs a
        // gradient; gate-major gradients are put back in that order on the way.
        Tensor dz = gy;
        if (gx.needed(1)) {
            gx.out(1, InputGrads::Writes::Part);  // zeros: marks the weight record as reached
            if (!s.output_grads.defined()) s.output_grads = empty_like(gy, {s.capacity, n, g});
            dz = alias_with_shape(s.output_grads, {n, g}, t * n * g);
            s.has_grad[t] = true;
        } else if (gates > 1) {
            dz = empty_like(gy, {n, g});
        }
        if (gates > 1) {
            const Shape gate_major = {gates, n, g / gates};
            kernels(gy).strided_copy(gy, permuted_layout(gate_major, {1, 0, 2}), dz,
                                     contiguous_layout({n, gates, g / gates}), false);
        } else if (!dz.same(gy)) {
            kernels(gy).copy_within(dz.raw_data(), gy.raw_data(), gy.numel() * dtype_size(gy.dtype()));
        }
        if (gx.needed(0)) {
            if (!s.backward_weight.data.defined()) s.backward_weight = kernels(gy).pack_matrix(s.weight, false, 1);
            into(gx, 0, [&](Tensor& gh, double beta) {
                kernels(dz).gemm_packed(dz, s.backward_weight, nullptr, Tensor(), beta, gh);
            });
        }
    });
    return z;
}

}  // namespace tapegrad
