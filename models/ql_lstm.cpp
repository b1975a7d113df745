#include "models/ql_lstm.h"

#include <cmath>

#include "autograd/tape.h"
#include "models/init.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tapegrad {

namespace {
const char* kGateNames[4] = {"i", "f", "o", "g"};
// Tape labels of the gates, in the same order: ".../t=3/forget_gate".
const char* kGateScopes[4] = {"input_gate", "forget_gate", "output_gate", "candidate"};
}

QlLstm::QlLstm(int64_t input_size_, int64_t hidden_size_, Generator& gen, QlLstmOptions opts)
    : input_size(input_size_), hidden_size(hidden_size_), options(opts) {
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

RecurrentOutput QlLstm::forward(const Tensor& x, const std::vector<int64_t>& lengths_in,
                                const RecurrentState& initial) const {
    std::vector<int64_t> lengths = resolve_lengths("ql_lstm", x, lengths_in);
    if (x.shape()[2] != input_size)
        fail("ql_lstm", "input is {} but the layer expects {} features", x.describe(), input_size);
    const int64_t B = x.shape()[0], T = x.shape()[1], H = hidden_size, K = options.block_size;
    bool padded = false;
    for (int64_t len : lengths) padded |= len < T;

    Tensor h = initial.h.defined() ? initial.h : Tensor::zeros({B, H}, x.dtype(), x.device());
    Tensor c = initial.c.defined() ? initial.c : Tensor::zeros({B, H}, x.dtype(), x.device());
    Tensor summary = Tensor::zeros({B, H}, x.dtype(), x.device());  // s_{k-1}
    // The hoisted input projection of all steps, time-major so that each step's slice is a
    // contiguous view: W x [T, B, H] (PSUG) or W_ih x [T, B, 4H] (its biases join in the product).
    Tensor x_time_major = transpose(x, 0, 1);
    Tensor projected = options.psug ? linear(x_time_major, weight, Tensor()) : lstm->project_inputs(x_time_major);
    RecurrentLinear recurrent = options.psug ? RecurrentLinear(recurrent_weight, projected, Tensor(), T)
                                             : lstm->recurrent_product(projected, T);  // gate-major [4, B, H]
    // PSUG: the sigmoid gates' scales and biases stacked gate-major, [3, 1, H] in the order i, f, o,
    // so that one broadcast a ⊙ z + b gives their pre-activations as [3, B, H] (one sigmoid, each
    // gate a contiguous view: select of gate k); g's, [H], give its own [B, H] (one tanh).
    Tensor scales, biases;
    if (options.psug) {
        biases = reshape(stack({gate_bias[0], gate_bias[1], gate_bias[2]}, 0), {3, 1, H});
        if (options.gate_scales) scales = reshape(stack({gate_scale[0], gate_scale[1], gate_scale[2]}, 0), {3, 1, H});
    }
    auto affine = [&](const Tensor& z, const Tensor& scale, const Tensor& bias) {  // a ⊙ z + b
        return options.gate_scales ? addcmul(bias, z, scale) : z + bias;
    };
    std::vector<Tensor> outputs, block_h, block_mask;

    for (int64_t t = 0; t < T; ++t) {
        NameScope step_scope("t=" + std::to_string(t));
        Tensor h_new, c_new, output_gate;
        // Labels: the gates by name, "c" and "h" for the state (autograd/grad_flow.h finds them).
        Tensor gates[4];  // i, f, o, g
        if (options.psug) {
            Tensor z = in_scope("gates", [&] { return recurrent.step(h); });  // [B, H]
            Tensor sigmoids = in_scope("gates", [&] { return sigmoid(affine(z, scales, biases)); });  // [3, B, H]
            for (int k = 0; k < 3; ++k) gates[k] = in_scope(kGateScopes[k], [&] { return select(sigmoids, 0, k); });
            gates[3] = in_scope(kGateScopes[3], [&] { return tanh(affine(z, gate_scale[3], gate_bias[3])); });
        } else {
            Tensor g = in_scope("gates", [&] { return recurrent.step(h); });  // [4, B, H]
            const int standard_order[4] = {0, 1, 3, 2};  // the LSTM cell's layout is i, f, g, o
            for (int k = 0; k < 4; ++k)
                gates[k] = in_scope(kGateScopes[k], [&] {
                    Tensor pre = select(g, 0, standard_order[k]);
                    return k == 3 ? tanh(pre) : sigmoid(pre);
                });
        }
        c_new = in_scope("c", [&] { return addcmul(gates[1] * c, gates[0], gates[3]); });
        output_gate = gates[2];
        h_new = in_scope("h", [&] { return output_gate * tanh(c_new); });
        Tensor m = padded ? step_mask(lengths, t, x) : Tensor();

        if (options.hgr) {
            block_h.push_back(h_new);
            block_mask.push_back(m);
            // Which sequences end a block here: at multiples of K, or at their own last real step.
            std::vector<double> ends(B);
            bool any_end = false, all_end = true;
            for (int64_t b = 0; b < B; ++b) {
                ends[b] = t < lengths[b] && ((t + 1) % K == 0 || t == lengths[b] - 1) ? 1.0 : 0.0;
                any_end |= ends[b] != 0.0;
                all_end &= ends[b] != 0.0;
            }
            if (any_end) {
                NameScope block_scope("block=" + std::to_string(t / K));
                // m_k: pool over the block's real steps, [k, B, H] -> [B, H] (stacked time-major:
                // each step's h is one contiguous block of the stack).
                Tensor stacked = stack(block_h, 0);
                Tensor pooled;
                if (padded) {
                    Tensor mask = stack(block_mask, 0);  // [k, B, 1]
                    pooled = options.max_pool ? max(stacked + (mask - 1.0) * 1e30, 0)
                                              : sum(stacked * mask, 0) / (sum(mask, 0) + 1e-30);
                } else {
                    pooled = options.max_pool ? max(stacked, 0) : mean(stacked, 0);
                }
                Tensor pre = linear(pooled, summary_weight, summary_bias);
                if (options.block_recurrence) pre = pre + linear(summary, summary_recurrent, Tensor());
                Tensor s = tanh(pre);
                auto skip = [&] {  // c + s_k, or the gated f_skip ⊙ c + (1 - f_skip) ⊙ s_k
                    if (!options.gated_skip) return c_new + s;
                    Tensor keep = sigmoid(linear(pooled, skip_gate_weight, skip_gate_bias));
                    return addcmul(keep * c_new, 1.0 - keep, s);
                };
                if (all_end) {
                    c_new = in_scope("c", skip);
                    h_new = in_scope("h", [&] { return output_gate * tanh(c_new); });
                    summary = s;
                } else {  // only the sequences that end a block here take the skip: x + e (x_new - x)
                    Tensor e = column_mask(ends, x), skipped = skip();
                    c_new = in_scope("c", [&] { return addcmul(c_new, e, skipped - c_new); });
                    h_new = in_scope("h", [&] { return addcmul(h_new, e, output_gate * tanh(c_new) - h_new); });
                    summary = addcmul(summary, e, s - summary);
                }
            }
            if ((t + 1) % K == 0) {
                block_h.clear();
                block_mask.clear();
            }
        }
        if (padded) {
            h_new = in_scope("h", [&] { return addcmul(h, m, h_new - h); });
            c_new = in_scope("c", [&] { return addcmul(c, m, c_new - c); });
            outputs.push_back(h_new * m);
        } else {
            outputs.push_back(h_new);
        }
        h = h_new;
        c = c_new;
    }
    return {stack(outputs, 1), {{h, c}}};
}

}  // namespace tapegrad
