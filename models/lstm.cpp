#include "lstm.h"

#include "../autograd/tape.h"
#include "../ops/elementwise.h"
#include "../ops/linalg.h"
#include "../ops/shape_ops.h"

namespace tapegrad {

LstmGates lstm_gates(const std::vector<Tensor>& a) {
    LstmGates gates;
    gates.input_gate = in_scope("input_gate", [&] { return sigmoid(a[0]); });
    gates.forget_gate = in_scope("forget_gate", [&] { return sigmoid(a[1]); });
    gates.candidate = in_scope("candidate", [&] { return tanh(a[2]); });
    gates.output_gate = in_scope("output_gate", [&] { return sigmoid(a[3]); });
    return gates;
}

RecurrentState lstm_state(const Tensor& input_gate, const Tensor& candidate, const Tensor& output_gate,
                          const std::vector<Forget>& forgets) {
    Tensor c = in_scope("c", [&] {
        Tensor sum = input_gate * candidate;
        for (const Forget& f : forgets) sum = addcmul(sum, f.gate, f.c);  // + f_k ⊙ c_k, one op each
        return sum;
    });
    return {lstm_hidden(output_gate, c), c};
}

RecurrentState lstm_state(const LstmGates& gates, const Tensor& c) {
    return lstm_state(gates.input_gate, gates.candidate, gates.output_gate, {{gates.forget_gate, c}});
}

Tensor lstm_hidden(const Tensor& output_gate, const Tensor& c) {
    return in_scope("h", [&] { return output_gate * tanh(c); });
}

LstmCell::LstmCell(int64_t input_size, int64_t hidden_size, Generator& gen, double forget_bias)
    : RecurrentCell("LstmCell", input_size, hidden_size) {
    weight_ih = recurrent_init({4 * hidden_size, input_size}, hidden_size, gen);
    weight_hh = recurrent_init({4 * hidden_size, hidden_size}, hidden_size, gen);
    bias_ih = recurrent_init({4 * hidden_size}, hidden_size, gen);
    bias_hh = recurrent_init({4 * hidden_size}, hidden_size, gen);
    if (forget_bias != 0.0) {
        std::vector<float> b = bias_ih.to_vector<float>();
        for (int64_t j = hidden_size; j < 2 * hidden_size; ++j) b[j] += float(forget_bias);  // gate order i, f, g, o
        bias_ih = Tensor::from_vector(b, {4 * hidden_size});
    }
    register_parameter("weight_ih", &weight_ih);
    register_parameter("weight_hh", &weight_hh);
    register_parameter("bias_ih", &bias_ih);
    register_parameter("bias_hh", &bias_hh);
}

// Reference: one step as the equations read. Labels: ".../t=3/gates", ".../t=3/forget_gate" and
// so on; "c" and "h" mark the new state.
RecurrentState LstmCell::step(const Tensor& x, const RecurrentState& previous, const StepContext&) const {
    return lstm_state(lstm_gates(preactivations(x, previous.h)), previous.c);
}

// [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh: [B, 4H], cut into four [B, H].
std::vector<Tensor> LstmCell::preactivations(const Tensor& x, const Tensor& h) const {
    return in_scope("gates", [&] {
        Tensor from_input = linear(x, weight_ih, bias_ih);  // first on the tape: the order of the equation
        return chunk(from_input + linear(h, weight_hh, bias_hh), 4, 1);
    });
}

// Fast: the hoisted projection is W_ih x alone; both biases join each step's product as it is
// written (RecurrentLinear adds b_ih + b_hh in the same pass as A_t: no pass of its own over
// [T, B, 4H]), which comes out gate-major, [4, B, H].
Hoisted LstmCell::hoist(const Tensor& x) const {
    Tensor projected = linear(x, weight_ih, Tensor());
    return {projected, RecurrentLinear(weight_hh, projected, bias_ih + bias_hh, x.shape()[0], 4)};
}

RecurrentState LstmCell::fast_step(Hoisted& hoisted, const RecurrentState& previous, const StepContext&) const {
    return lstm_state(lstm_gates(fast_preactivations(hoisted.recurrent, previous.h)), previous.c);
}

// Each gate is a view of the gate-major z_t (select), not a slicing copy of [B, 4H]; the views
// carry the labels of lstm_gates.
std::vector<Tensor> LstmCell::fast_preactivations(RecurrentLinear& recurrent, const Tensor& h) const {
    static const char* const labels[4] = {"input_gate", "forget_gate", "candidate", "output_gate"};
    Tensor z = in_scope("gates", [&] { return recurrent.step(h); });  // [4, B, H]: i, f, g, o
    std::vector<Tensor> a;
    for (int64_t k = 0; k < 4; ++k) a.push_back(in_scope(labels[k], [&] { return select(z, 0, k); }));
    return a;
}

}  // namespace tapegrad
