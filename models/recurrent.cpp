#include "models/recurrent.h"

#include <cmath>

#include "autograd/tape.h"
#include "models/init.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/shape_ops.h"

namespace tapegrad {

std::vector<int64_t> resolve_lengths(const char* op, const Tensor& x, const std::vector<int64_t>& lengths) {
    if (x.dim() != 3) fail(op, "expected a batch-first input [B, T, D], got {}", x.describe());
    int64_t batch = x.shape()[0], steps = x.shape()[1];
    if (lengths.empty()) return std::vector<int64_t>(batch, steps);
    if (int64_t(lengths.size()) != batch)
        fail(op, "got {} lengths for a batch of {} sequences (x is {})", lengths.size(), batch, x.describe());
    for (size_t b = 0; b < lengths.size(); ++b)
        if (lengths[b] < 1 || lengths[b] > steps)
            fail(op, "length {} of sequence {} is out of range (expected 1 <= length <= T = {})", lengths[b], b, steps);
    return lengths;
}

Tensor column_mask(const std::vector<double>& values, const Tensor& like) {
    return Tensor::from_values(values, {int64_t(values.size()), 1}, like.dtype(), like.device());
}

Tensor step_mask(const std::vector<int64_t>& lengths, int64_t t, const Tensor& like) {
    std::vector<double> m(lengths.size());
    for (size_t b = 0; b < m.size(); ++b) m[b] = t < lengths[b] ? 1.0 : 0.0;
    return column_mask(m, like);
}

RecurrentState detach(const RecurrentState& s) { return {s.h.detach(), s.c.defined() ? s.c.detach() : Tensor()}; }

Tensor time_step(const Tensor& x, int64_t t) { return select(x, 0, t); }

RecurrentOutput run_recurrent(const RecurrentCell& cell, const Tensor& x, const std::vector<int64_t>& lengths,
                              const RecurrentState& initial) {
    int64_t batch = x.shape()[0], steps = x.shape()[1], hidden = cell.hidden_size;
    if (x.shape()[2] != cell.input_size)
        fail("recurrent", "input is {} but the cell expects {} features", x.describe(), cell.input_size);
    bool padded = false;
    for (int64_t len : lengths) padded |= len < steps;

    RecurrentState state = initial;
    if (!state.h.defined()) state.h = Tensor::zeros({batch, hidden}, x.dtype(), x.device());
    if (cell.has_cell_state() && !state.c.defined()) state.c = Tensor::zeros({batch, hidden}, x.dtype(), x.device());

    // x [B, T, D] -> [T, B, D] before the projection (D <= G: the cheaper tensor to transpose), so
    // that each step's block of the projected [T, B, G] is contiguous.
    Tensor projected = cell.project_inputs(transpose(x, 0, 1));
    RecurrentLinear recurrent = cell.recurrent_product(projected, steps);
    std::vector<Tensor> outputs;
    for (int64_t t = 0; t < steps; ++t) {
        NameScope scope("t=" + std::to_string(t));
        RecurrentState next = cell.step(projected, t, state, recurrent);
        if (padded) {
            // Past its end a sequence keeps its state (h += m (h_new - h)) and outputs zero.
            Tensor m = step_mask(lengths, t, x);
            next.h = in_scope("h", [&] { return addcmul(state.h, m, next.h - state.h); });
            if (next.c.defined()) next.c = in_scope("c", [&] { return addcmul(state.c, m, next.c - state.c); });
            outputs.push_back(next.h * m);
        } else {
            outputs.push_back(next.h);
        }
        state = next;
    }
    return {stack(outputs, 1), {state}};
}

namespace {
// PyTorch's recurrent init: every weight and bias uniform in ±1/sqrt(H).
Tensor init(const Shape& shape, int64_t hidden, Generator& gen) {
    return uniform_init(shape, 1.0 / std::sqrt(double(hidden)), gen);
}
}  // namespace

RnnCell::RnnCell(int64_t input_size, int64_t hidden_size, Generator& gen) : RecurrentCell(input_size, hidden_size) {
    weight_ih = init({hidden_size, input_size}, hidden_size, gen);
    weight_hh = init({hidden_size, hidden_size}, hidden_size, gen);
    bias_ih = init({hidden_size}, hidden_size, gen);
    bias_hh = init({hidden_size}, hidden_size, gen);
    register_parameter("weight_ih", &weight_ih);
    register_parameter("weight_hh", &weight_hh);
    register_parameter("bias_ih", &bias_ih);
    register_parameter("bias_hh", &bias_hh);
}

// The hoisted projection is W_ih x alone; both biases join each step's product as it is written
// (RecurrentLinear adds b_ih + b_hh in the same pass as A_t: no pass of its own over [T, B, G]).
Tensor RnnCell::project_inputs(const Tensor& x) const { return linear(x, weight_ih, Tensor()); }

RecurrentLinear RnnCell::recurrent_product(const Tensor& projected, int64_t steps) const {
    return RecurrentLinear(weight_hh, projected, bias_ih + bias_hh, steps);
}

RecurrentState RnnCell::step(const Tensor&, int64_t, const RecurrentState& previous, RecurrentLinear& recurrent) const {
    NameScope label("h");
    return {tanh(recurrent.step(previous.h)), Tensor()};
}

LstmCell::LstmCell(int64_t input_size, int64_t hidden_size, Generator& gen, double forget_bias)
    : RecurrentCell(input_size, hidden_size) {
    weight_ih = init({4 * hidden_size, input_size}, hidden_size, gen);
    weight_hh = init({4 * hidden_size, hidden_size}, hidden_size, gen);
    bias_ih = init({4 * hidden_size}, hidden_size, gen);
    bias_hh = init({4 * hidden_size}, hidden_size, gen);
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

Tensor LstmCell::project_inputs(const Tensor& x) const { return linear(x, weight_ih, Tensor()); }

// Gate-major z_t [4, B, H]: each gate is a view (select), not a slicing copy of [B, 4H]. Both
// biases are added as the product is written, as for the RNN.
RecurrentLinear LstmCell::recurrent_product(const Tensor& projected, int64_t steps) const {
    return RecurrentLinear(weight_hh, projected, bias_ih + bias_hh, steps, 4);
}

RecurrentState LstmCell::step(const Tensor&, int64_t, const RecurrentState& previous, RecurrentLinear& recurrent) const {
    // Labels: ".../t=3/forget_gate" and so on; "c" and "h" mark the new state (autograd/grad_flow.h).
    Tensor gates = in_scope("gates", [&] { return recurrent.step(previous.h); });  // [4, B, H]: i, f, g, o
    Tensor input_gate = in_scope("input_gate", [&] { return sigmoid(select(gates, 0, 0)); });
    Tensor forget_gate = in_scope("forget_gate", [&] { return sigmoid(select(gates, 0, 1)); });
    Tensor candidate = in_scope("candidate", [&] { return tanh(select(gates, 0, 2)); });
    Tensor output_gate = in_scope("output_gate", [&] { return sigmoid(select(gates, 0, 3)); });
    Tensor c = in_scope("c", [&] { return addcmul(forget_gate * previous.c, input_gate, candidate); });
    return {in_scope("h", [&] { return output_gate * tanh(c); }), c};
}

GruCell::GruCell(int64_t input_size, int64_t hidden_size, Generator& gen) : RecurrentCell(input_size, hidden_size) {
    weight_ih = init({3 * hidden_size, input_size}, hidden_size, gen);
    weight_hh = init({3 * hidden_size, hidden_size}, hidden_size, gen);
    bias_ih = init({3 * hidden_size}, hidden_size, gen);
    bias_hh = init({3 * hidden_size}, hidden_size, gen);
    register_parameter("weight_ih", &weight_ih);
    register_parameter("weight_hh", &weight_hh);
    register_parameter("bias_ih", &bias_ih);
    register_parameter("bias_hh", &bias_hh);
}

Tensor GruCell::project_inputs(const Tensor& x) const { return linear(x, weight_ih, bias_ih); }

RecurrentLinear GruCell::recurrent_product(const Tensor&, int64_t steps) const {
    return RecurrentLinear(weight_hh, Tensor(), bias_hh, steps, 3);  // gate-major [3, B, H]
}

RecurrentState GruCell::step(const Tensor& projected, int64_t t, const RecurrentState& previous,
                             RecurrentLinear& recurrent) const {
    // Labels as in LstmCell::step: ".../t=3/update_gate"; "h" marks the new state.
    std::vector<Tensor> xs = in_scope("gates", [&] { return chunk(time_step(projected, t), 3, 1); });
    Tensor hs = in_scope("gates", [&] { return recurrent.step(previous.h); });  // [3, B, H]: r, z, n
    Tensor reset = in_scope("reset_gate", [&] { return sigmoid(xs[0] + select(hs, 0, 0)); });
    Tensor update = in_scope("update_gate", [&] { return sigmoid(xs[1] + select(hs, 0, 1)); });
    Tensor candidate = in_scope("candidate", [&] { return tanh(addcmul(xs[2], reset, select(hs, 0, 2))); });
    // h' = (1 - z) n + z h = n + z (h - n)
    return {in_scope("h", [&] { return addcmul(candidate, update, previous.h - candidate); }), Tensor()};
}

Recurrent::Recurrent(CellType type, int64_t input_size, int64_t hidden_size, int64_t num_layers, Generator& gen,
                     double forget_bias) {
    if (num_layers < 1) fail("Recurrent", "num_layers must be at least 1, got {}", num_layers);
    for (int64_t l = 0; l < num_layers; ++l) {
        int64_t in = l == 0 ? input_size : hidden_size;
        if (type == CellType::RNN) layers.push_back(std::make_unique<RnnCell>(in, hidden_size, gen));
        else if (type == CellType::LSTM) layers.push_back(std::make_unique<LstmCell>(in, hidden_size, gen, forget_bias));
        else layers.push_back(std::make_unique<GruCell>(in, hidden_size, gen));
        register_module("layers." + std::to_string(l), layers.back().get());
    }
}

RecurrentOutput Recurrent::forward(const Tensor& x, const std::vector<int64_t>& lengths,
                                   const std::vector<RecurrentState>& initial) const {
    std::vector<int64_t> resolved = resolve_lengths("recurrent", x, lengths);
    if (!initial.empty() && initial.size() != layers.size())
        fail("recurrent", "got {} initial states for {} layers", initial.size(), layers.size());
    RecurrentOutput result;
    Tensor input = x;
    for (size_t l = 0; l < layers.size(); ++l) {
        NameScope scope("layer" + std::to_string(l));
        RecurrentOutput out = run_recurrent(*layers[l], input, resolved, initial.empty() ? RecurrentState{} : initial[l]);
        input = out.output;
        result.last.push_back(out.last[0]);
    }
    result.output = input;
    return result;
}

Tensor reverse_within_lengths(const Tensor& x, const std::vector<int64_t>& lengths) {
    int64_t batch = x.shape()[0], steps = x.shape()[1];
    Shape rows_shape = {batch * steps};
    for (int k = 2; k < x.dim(); ++k) rows_shape.push_back(x.shape()[k]);
    std::vector<int64_t> index(batch * steps);
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = 0; t < steps; ++t) index[b * steps + t] = b * steps + (t < lengths[b] ? lengths[b] - 1 - t : t);
    Tensor rows = index_select(reshape(x, rows_shape), 0, to(Tensor::from_vector(index, {batch * steps}), x.device()));
    return reshape(rows, x.shape());
}

BiLstm::BiLstm(int64_t input_size, int64_t hidden_size, int64_t num_layers, Generator& gen, double forget_bias) {
    if (num_layers < 1) fail("BiLstm", "num_layers must be at least 1, got {}", num_layers);
    for (auto* cells : {&forward_cells, &backward_cells}) {
        const std::string direction = cells == &forward_cells ? "forward" : "backward";
        for (int64_t l = 0; l < num_layers; ++l) {
            int64_t in = l == 0 ? input_size : 2 * hidden_size;
            cells->push_back(std::make_unique<LstmCell>(in, hidden_size, gen, forget_bias));
            register_module(direction + ".layers." + std::to_string(l), cells->back().get());
        }
    }
}

RecurrentOutput BiLstm::forward(const Tensor& x, const std::vector<int64_t>& lengths) const {
    std::vector<int64_t> resolved = resolve_lengths("bilstm", x, lengths);
    RecurrentOutput result;
    Tensor input = x;
    for (size_t l = 0; l < forward_cells.size(); ++l) {
        NameScope scope("layer" + std::to_string(l));
        RecurrentOutput fwd, bwd;
        {
            NameScope direction("forward");
            fwd = run_recurrent(*forward_cells[l], input, resolved, {});
        }
        {
            NameScope direction("backward");
            bwd = run_recurrent(*backward_cells[l], reverse_within_lengths(input, resolved), resolved, {});
        }
        input = concat({fwd.output, reverse_within_lengths(bwd.output, resolved)}, 2);
        result.last.push_back(fwd.last[0]);
        result.last.push_back(bwd.last[0]);
    }
    result.output = input;
    return result;
}

}  // namespace tapegrad
