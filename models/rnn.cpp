#include "rnn.h"

#include "../autograd/tape.h"
#include "../ops/elementwise.h"
#include "../ops/linalg.h"

namespace tapegrad {

RnnCell::RnnCell(int64_t input_size, int64_t hidden_size, Generator& gen) : RecurrentCell("RnnCell", input_size, hidden_size) {
    weight_ih = recurrent_init({hidden_size, input_size}, hidden_size, gen);
    weight_hh = recurrent_init({hidden_size, hidden_size}, hidden_size, gen);
    bias_ih = recurrent_init({hidden_size}, hidden_size, gen);
    bias_hh = recurrent_init({hidden_size}, hidden_size, gen);
    register_parameter("weight_ih", &weight_ih);
    register_parameter("weight_hh", &weight_hh);
    register_parameter("bias_ih", &bias_ih);
    register_parameter("bias_hh", &bias_hh);
}

// Reference: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), labelled "h".
RecurrentState RnnCell::step(const Tensor& x, const RecurrentState& previous, const StepContext&) const {
    Tensor h = in_scope("h", [&] {
        Tensor from_input = linear(x, weight_ih, bias_ih);  // first on the tape: the order of the equation
        return tanh(from_input + linear(previous.h, weight_hh, bias_hh));
    });
    return {h, Tensor()};
}

// Fast: the hoisted projection is W_ih x alone; both biases join each step's product as it is
// written (RecurrentLinear adds b_ih + b_hh in the same pass as A_t: no pass of its own over [T, B, H]).
Hoisted RnnCell::hoist(const Tensor& x) const {
    Tensor projected = linear(x, weight_ih, Tensor());
    return {projected, RecurrentLinear(weight_hh, projected, bias_ih + bias_hh, x.shape()[0])};
}

RecurrentState RnnCell::fast_step(Hoisted& hoisted, const RecurrentState& previous, const StepContext&) const {
    return {in_scope("h", [&] { return tanh(hoisted.recurrent.step(previous.h)); }), Tensor()};
}

}  // namespace tapegrad
