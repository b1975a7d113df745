#include "ql_lstm.h"

#include <cmath>

#include "../autograd/tape.h"
#include "init.h"
#include "../ops/elementwise.h"
#include "../ops/linalg.h"
#include "../ops/reduce.h"
#include "../ops/shape_ops.h"

namespace tapegrad {

namespace {
const char* kGateNames[4] = {"i", "f", "o", "g"};
}

QlLstm::QlLstm(int64_t input_size, int64_t hidden_size, Generator& gen, QlLstmOptions opts)
    : RecurrentCell("QlLstm", input_size, hidden_size), options(opts) {
    if (options.block_size < 1) fail("QlLstm", "block_size K must be at least 1, got {}", options.block_size);
    const int64_t H = hidden_size;
    double bound = 1.0 / std::sqrt(double(H));
    if (options.psug) {
        weight = uniform_init({H, input_size}, bound, gen);
        recurrent_weight = uniform_init({H, H}, bound, gen);
        register_parameter("weight", &weight);
        register_parameter("recurrent_weight", &recurrent_weight);
        for (int k = 0; k < 4; ++k) {
            gate_bias[k] = k == 1 ? Tensor::full({H}, options.forget_bias) : Tensor::zeros({H});
            register_parameter(std::string("bias_") + kGateNames[k], &gate_bias[k]);
        }
        if (options.gate_scales)
            for (int k = 0; k < 4; ++k) {
                // Around 1, drawn per gate: with equal scales, i and o would start identical.
                gate_scale[k] = Tensor::uniform({H}, 0.5, 1.5, gen);
                register_parameter(std::string("scale_") + kGateNames[k], &gate_scale[k]);
            }
    } else {
        lstm = std::make_unique<LstmCell>(input_size, H, gen, options.forget_bias);
        register_module("lstm", lstm.get());
    }
    if (options.hgr) {
        summary_weight = uniform_init({H, H}, bound, gen);
        summary_bias = Tensor::zeros({H});
        register_parameter("summary_weight", &summary_weight);
        register_parameter("summary_bias", &summary_bias);
        if (options.block_recurrence) {
            summary_recurrent = uniform_init({H, H}, bound, gen);
            register_parameter("summary_recurrent", &summary_recurrent);
        }
        if (options.gated_skip) {
            skip_gate_weight = uniform_init({H, H}, bound, gen);
            skip_gate_bias = Tensor::zeros({H});
            register_parameter("skip_gate_weight", &skip_gate_weight);
            register_parameter("skip_gate_bias", &skip_gate_bias);
        }
    }
}

int64_t QlLstm::parameter_count(int64_t D, int64_t H, const QlLstmOptions& o) {
    int64_t gates = o.psug ? H * D + H * H + 4 * H + (o.gate_scales ? 4 * H : 0) : 4 * H * (D + H) + 8 * H;
    int64_t hgr = o.hgr ? H * H + H + (o.block_recurrence ? H * H : 0) + (o.gated_skip ? H * H + H : 0) : 0;
    return gates + hgr;
}

RecurrentOutput QlLstm::forward(const Tensor& x, const std::vector<int64_t>& lengths,
                                const RecurrentState& initial) const {
    std::vector<int64_t> resolved = resolve_lengths("ql_lstm", x, lengths);
    if (x.shape()[2] != input_size)
        fail("ql_lstm", "input is {} but the layer expects {} features", x.describe(), input_size);
    return run_recurrent(*this, x, resolved, initial, schedule);
}

Tensor QlLstm::scaled(const Tensor& z, const Tensor& scale, const Tensor& bias) const {
    return options.gate_scales ? addcmul(bias, z, scale) : z + bias;
}

// Reference: one step as the equations read. Labels: the gates by name, "c" and "h" for the state.
RecurrentState QlLstm::step(const Tensor& x, const RecurrentState& previous, const StepContext& at) const {
    if (!options.psug) return update(lstm_gates(lstm->preactivations(x, previous.h)), previous, at);
    // z_t = W x_t + U h_{t-1}, [B, H]: one affine map shared by the four gates
    Tensor z = in_scope("gates", [&] {
        Tensor from_input = linear(x, weight, Tensor());  // first on the tape: the order of the equation
        return from_input + linear(previous.h, recurrent_weight, Tensor());
    });
    LstmGates gates;
    gates.input_gate = in_scope("input_gate", [&] { return sigmoid(scaled(z, gate_scale[0], gate_bias[0])); });
    gates.forget_gate = in_scope("forget_gate", [&] { return sigmoid(scaled(z, gate_scale[1], gate_bias[1])); });
    gates.output_gate = in_scope("output_gate", [&] { return sigmoid(scaled(z, gate_scale[2], gate_bias[2])); });
    gates.candidate = in_scope("candidate", [&] { return tanh(scaled(z, gate_scale[3], gate_bias[3])); });
    return update(gates, previous, at);
}

// Fast: the input projection of all steps, W x [T, B, H] (PSUG) or W_ih x [T, B, 4H] (its biases
// join in the product), and the recurrent product. PSUG: the sigmoid gates' scales and biases
// stacked gate-major, [3, 1, H] in the order i, f, o, so that one broadcast a ⊙ z + b gives their
// pre-activations as [3, B, H] (one sigmoid, each gate a contiguous view: select of gate k).
Hoisted QlLstm::hoist(const Tensor& x) const {
    if (!options.psug) return lstm->hoist(x);  // gate-major [4, B, H]
    Tensor projected = linear(x, weight, Tensor());
    Hoisted hoisted{projected, RecurrentLinear(recurrent_weight, projected, Tensor(), x.shape()[0])};
    hoisted.biases = reshape(stack({gate_bias[0], gate_bias[1], gate_bias[2]}, 0), {3, 1, hidden_size});
    if (options.gate_scales)
        hoisted.scales = reshape(stack({gate_scale[0], gate_scale[1], gate_scale[2]}, 0), {3, 1, hidden_size});
    return hoisted;
}

RecurrentState QlLstm::fast_step(Hoisted& hoisted, const RecurrentState& previous, const StepContext& at) const {
    if (!options.psug) return update(lstm_gates(lstm->fast_preactivations(hoisted.recurrent, previous.h)), previous, at);
    Tensor z = in_scope("gates", [&] { return hoisted.recurrent.step(previous.h); });  // [B, H]
    // i, f, o: one sigmoid of the stacked a ⊙ z + b, [3, B, H]; each gate a view of it
    Tensor sigmoids = in_scope("gates", [&] { return sigmoid(scaled(z, hoisted.scales, hoisted.biases)); });
    LstmGates gates;
    gates.input_gate = in_scope("input_gate", [&] { return select(sigmoids, 0, 0); });
    gates.forget_gate = in_scope("forget_gate", [&] { return select(sigmoids, 0, 1); });
    gates.output_gate = in_scope("output_gate", [&] { return select(sigmoids, 0, 2); });
    gates.candidate = in_scope("candidate", [&] { return tanh(scaled(z, gate_scale[3], gate_bias[3])); });
    return update(gates, previous, at);
}

RecurrentState QlLstm::update(const LstmGates& gates, const RecurrentState& previous, const StepContext& at) const {
    RecurrentState next = lstm_state(gates, previous.c);
    if (!options.hgr) return next;
    const int64_t B = next.h.shape()[0], K = options.block_size, t = at.t;
    // s_{k-1}: zero before the first block ends
    next.summary = previous.summary.defined() ? previous.summary
                                              : Tensor::zeros({B, hidden_size}, next.h.dtype(), next.h.device());
    next.block_h = previous.block_h;
    next.block_mask = previous.block_mask;
    next.block_h.push_back(next.h);
    next.block_mask.push_back(at.mask);
    // Which sequences end a block here: at multiples of K, or at their own last real step.
    std::vector<double> ends(B);
    bool any_end = false, all_end = true;
    for (int64_t b = 0; b < B; ++b) {
        ends[b] = t < at.lengths[b] && ((t + 1) % K == 0 || t == at.lengths[b] - 1) ? 1.0 : 0.0;
        any_end |= ends[b] != 0.0;
        all_end &= ends[b] != 0.0;
    }
    if (any_end) {
        NameScope block_scope("block=" + std::to_string(t / K));
        // m_k: pool over the block's real steps, [k, B, H] -> [B, H] (stacked time-major: each
        // step's h is one contiguous block of the stack).
        Tensor stacked = stack(next.block_h, 0);
        Tensor pooled;
        if (at.mask.defined()) {
            Tensor mask = stack(next.block_mask, 0);  // [k, B, 1]
            pooled = options.max_pool ? max(stacked + (mask - 1.0) * 1e30, 0)
                                      : sum(stacked * mask, 0) / (sum(mask, 0) + 1e-30);
        } else {
            pooled = options.max_pool ? max(stacked, 0) : mean(stacked, 0);
        }
        Tensor pre = linear(pooled, summary_weight, summary_bias);
        if (options.block_recurrence) pre = pre + linear(next.summary, summary_recurrent, Tensor());
        Tensor s = tanh(pre);
        auto skip = [&] {  // c + s_k, or the gated f_skip ⊙ c + (1 - f_skip) ⊙ s_k
            if (!options.gated_skip) return next.c + s;
            Tensor keep = sigmoid(linear(pooled, skip_gate_weight, skip_gate_bias));
            return addcmul(keep * next.c, 1.0 - keep, s);
        };
        if (all_end) {
            next.c = in_scope("c", skip);
            next.h = lstm_hidden(gates.output_gate, next.c);
            next.summary = s;
        } else {  // only the sequences that end a block here take the skip: x + e (x_new - x)
            Tensor e = column_mask(ends, next.h), skipped = skip();
            next.c = in_scope("c", [&] { return addcmul(next.c, e, skipped - next.c); });
            Tensor skipped_h = lstm_hidden(gates.output_gate, next.c);
            next.h = in_scope("h", [&] { return addcmul(next.h, e, skipped_h - next.h); });
            next.summary = addcmul(next.summary, e, s - next.summary);
        }
    }
    if ((t + 1) % K == 0) {
        next.block_h.clear();
        next.block_mask.clear();
    }
    return next;
}

}  // namespace tapegrad
