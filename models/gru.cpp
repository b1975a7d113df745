#include "gru.h"

#include "../autograd/tape.h"
#include "../ops/elementwise.h"
#include "../ops/linalg.h"
#include "../ops/shape_ops.h"

namespace tapegrad {

GruCell::GruCell(int64_t input_size, int64_t hidden_size, Generator& gen) : RecurrentCell("GruCell", input_size, hidden_size) {
    weight_ih = recurrent_init({3 * hidden_size, input_size}, hidden_size, gen);
    weight_hh = recurrent_init({3 * hidden_size, hidden_size}, hidden_size, gen);
    bias_ih = recurrent_init({3 * hidden_size}, hidden_size, gen);
    bias_hh = recurrent_init({3 * hidden_size}, hidden_size, gen);
    register_parameter("weight_ih", &weight_ih);
    register_parameter("weight_hh", &weight_hh);
    register_parameter("bias_ih", &bias_ih);
    register_parameter("bias_hh", &bias_hh);
}

// Reference: both affine maps of the step, each cut into its three gates. Labels as in
// LstmCell::step: ".../t=3/update_gate"; "h" marks the new state.
RecurrentState GruCell::step(const Tensor& x, const RecurrentState& previous, const StepContext&) const {
    std::vector<Tensor> xs = in_scope("gates", [&] { return chunk(linear(x, weight_ih, bias_ih), 3, 1); });
    std::vector<Tensor> hs = in_scope("gates", [&] { return chunk(linear(previous.h, weight_hh, bias_hh), 3, 1); });
    return gates(xs, hs, previous.h);
}

// Fast: W_ih x + b_ih for all steps (b_hh stays with the recurrent product: r multiplies n_h + b_hn).
Hoisted GruCell::hoist(const Tensor& x) const {
    return {linear(x, weight_ih, bias_ih), RecurrentLinear(weight_hh, Tensor(), bias_hh, x.shape()[0], 3)};
}

// Step t's block of the projection, cut into three; the recurrent product gate-major [3, B, H],
// each gate a view carrying its gate's label.
RecurrentState GruCell::fast_step(Hoisted& hoisted, const RecurrentState& previous, const StepContext& at) const {
    static const char* const labels[3] = {"reset_gate", "update_gate", "candidate"};
    std::vector<Tensor> xs = in_scope("gates", [&] { return chunk(time_step(hoisted.projected, at.t), 3, 1); });
    Tensor z = in_scope("gates", [&] { return hoisted.recurrent.step(previous.h); });  // [3, B, H]: r, z, n
    std::vector<Tensor> hs;
    for (int64_t k = 0; k < 3; ++k) hs.push_back(in_scope(labels[k], [&] { return select(z, 0, k); }));
    return gates(xs, hs, previous.h);
}

RecurrentState GruCell::gates(const std::vector<Tensor>& xs, const std::vector<Tensor>& hs, const Tensor& h) const {
    Tensor reset = in_scope("reset_gate", [&] { return sigmoid(xs[0] + hs[0]); });
    Tensor update = in_scope("update_gate", [&] { return sigmoid(xs[1] + hs[1]); });
    Tensor candidate = in_scope("candidate", [&] { return tanh(addcmul(xs[2], reset, hs[2])); });
    // h' = (1 - z) n + z h = n + z (h - n)
    return {in_scope("h", [&] { return addcmul(candidate, update, h - candidate); }), Tensor()};
}

}  // namespace tapegrad
