// Recurrent layers composed of primitive ops on the tape: RNN (tanh), LSTM, GRU, BiLSTM.
//
// Inputs are batch-first, x [B, T, D], with optional per-sequence lengths (a padded batch):
// sequence b has real steps 0 .. lengths[b]-1. At a padded step the state is carried unchanged
//   h_t = h_{t-1} + m_t (h_new - h_{t-1}),   m_t[b] = 1 if t < lengths[b] else 0
// and the output there is zero, so padding never changes real positions' outputs or gradients, and
// the final state is each sequence's state at its last real token.
//
// Schedule (the one the GEMM floor in bench/ assumes): the input projection of ALL time steps is
// one big GEMM before the loop, x [T*B, D] x W_ih^T [D, G] (x is turned time-major first, so each
// step's slice is a contiguous view); the loop then does only the recurrent product
// h_{t-1} W_hh^T [B, H] x [H, G] and elementwise gate math per step; and the recurrent weight's
// gradient is one big GEMM after the loop (RecurrentLinear, ops/linalg.h), not one per step.
#pragma once
#include <memory>
#include <vector>

#include "core/random.h"
#include "models/module.h"
#include "ops/linalg.h"

namespace tapegrad {

struct RecurrentState {
    Tensor h;  // [B, H]
    Tensor c;  // [B, H] for LSTM-type cells, undefined otherwise
};

struct RecurrentOutput {
    Tensor output;                     // [B, T, H] (or [B, T, 2H] for BiLSTM); zero at padded steps
    std::vector<RecurrentState> last;  // final state of each layer, at each sequence's last real token
};

// One layer: what differs between RNN, LSTM and GRU.
class RecurrentCell : public Module {
public:
    RecurrentCell(int64_t input_size, int64_t hidden_size) : input_size(input_size), hidden_size(hidden_size) {}
    // The hoisted input projection of all steps: x [T, B, D] -> [T, B, G].
    virtual Tensor project_inputs(const Tensor& x) const = 0;
    // The recurrent product of every step (ops/linalg.h), z_t = A_t + b + h_{t-1} W_hh^T, with A
    // the projected inputs [T, B, G] and b = b_ih + b_hh (RNN, LSTM), or b_hh alone (GRU).
    virtual RecurrentLinear recurrent_product(const Tensor& projected, int64_t steps) const = 0;
    // Step t from the previous state; z_t = recurrent.step(previous.h). `projected` is read apart
    // from z_t only by the GRU.
    virtual RecurrentState step(const Tensor& projected, int64_t t, const RecurrentState& previous,
                                RecurrentLinear& recurrent) const = 0;
    virtual bool has_cell_state() const { return false; }
    const int64_t input_size, hidden_size;
};

// Step t of a time-major [T, B, G] tensor: [B, G], a view.
Tensor time_step(const Tensor& x, int64_t t);
// Runs one cell over a sequence (the loop, masking and state handling shared by every cell).
RecurrentOutput run_recurrent(const RecurrentCell& cell, const Tensor& x, const std::vector<int64_t>& lengths,
                              const RecurrentState& initial);

// values as a column [B, 1] in like's dtype and on its device (masks for padded batches).
Tensor column_mask(const std::vector<double>& values, const Tensor& like);
// The mask m [B, 1] of step t (1 where t < lengths[b]), in x's dtype and device.
Tensor step_mask(const std::vector<int64_t>& lengths, int64_t t, const Tensor& like);
// Checks lengths against x [B, T, D] (empty = every sequence has T steps) and returns them.
std::vector<int64_t> resolve_lengths(const char* op, const Tensor& x, const std::vector<int64_t>& lengths);

// h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
class RnnCell : public RecurrentCell {
public:
    RnnCell(int64_t input_size, int64_t hidden_size, Generator& gen);
    Tensor project_inputs(const Tensor& x) const override;
    RecurrentLinear recurrent_product(const Tensor& projected, int64_t steps) const override;
    RecurrentState step(const Tensor& projected, int64_t t, const RecurrentState& previous,
                        RecurrentLinear& recurrent) const override;
    Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // [H, D], [H, H], [H], [H]
};

// [i, f, g, o] = W_ih x + b_ih + W_hh h + b_hh     (one GEMM for all four gates; PyTorch's order)
// c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g);   h' = σ(o) ⊙ tanh(c')
class LstmCell : public RecurrentCell {
public:
    // forget_bias: added to the forget gate's bias at initialisation (1.0 is common; 0 = PyTorch).
    LstmCell(int64_t input_size, int64_t hidden_size, Generator& gen, double forget_bias = 0.0);
    Tensor project_inputs(const Tensor& x) const override;
    RecurrentLinear recurrent_product(const Tensor& projected, int64_t steps) const override;
    RecurrentState step(const Tensor& projected, int64_t t, const RecurrentState& previous,
                        RecurrentLinear& recurrent) const override;
    bool has_cell_state() const override { return true; }
    Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // [4H, D], [4H, H], [4H], [4H]
};

// PyTorch's GRU:  [r, z, n]_x = W_ih x + b_ih,  [r, z, n]_h = W_hh h + b_hh
//   r = σ(r_x + r_h);  z = σ(z_x + z_h);  n = tanh(n_x + r ⊙ n_h);  h' = (1 - z) ⊙ n + z ⊙ h
class GruCell : public RecurrentCell {
public:
    GruCell(int64_t input_size, int64_t hidden_size, Generator& gen);
    Tensor project_inputs(const Tensor& x) const override;
    RecurrentLinear recurrent_product(const Tensor& projected, int64_t steps) const override;
    RecurrentState step(const Tensor& projected, int64_t t, const RecurrentState& previous,
                        RecurrentLinear& recurrent) const override;
    Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // [3H, D], [3H, H], [3H], [3H]
};

enum class CellType { RNN, LSTM, GRU };

// A stack of num_layers cells of one type; layer l > 0 reads layer l-1's outputs.
// Parameter names: "layers.<l>.weight_ih" etc.
class Recurrent : public Module {
public:
    Recurrent(CellType type, int64_t input_size, int64_t hidden_size, int64_t num_layers, Generator& gen,
              double forget_bias = 0.0);
    // initial: one state per layer, or empty for zeros.
    RecurrentOutput forward(const Tensor& x, const std::vector<int64_t>& lengths = {},
                            const std::vector<RecurrentState>& initial = {}) const;
    std::vector<std::unique_ptr<RecurrentCell>> layers;
};

// A bidirectional LSTM, stacked like PyTorch's nn.LSTM(bidirectional=True): layer l has a forward
// and a backward cell; layer 0 reads x [B, T, D], layer l > 0 reads the concatenated [B, T, 2H]
// outputs of BOTH directions of layer l-1. The backward cell reads each sequence reversed within
// its own length (padding stays at the end) and its outputs are reversed back. Output: the last
// layer's [B, T, 2H] (forward half first); last = {layer 0 forward, layer 0 backward, layer 1
// forward, ...} (PyTorch's h_n order, index 2l + direction).
// Parameters: "forward.layers.<l>.weight_ih" [4H, D] for l = 0 and [4H, 2H] for l > 0,
// "forward.layers.<l>.weight_hh" [4H, H], biases [4H], the same under "backward.layers.<l>".
class BiLstm : public Module {
public:
    BiLstm(int64_t input_size, int64_t hidden_size, int64_t num_layers, Generator& gen, double forget_bias = 0.0);
    RecurrentOutput forward(const Tensor& x, const std::vector<int64_t>& lengths = {}) const;
    std::vector<std::unique_ptr<LstmCell>> forward_cells, backward_cells;  // one per layer
};

// x [B, T, ...] with each sequence's first lengths[b] steps reversed (an involution).
Tensor reverse_within_lengths(const Tensor& x, const std::vector<int64_t>& lengths);
// Returns `state` with h and c detached (truncated backpropagation through time).
RecurrentState detach(const RecurrentState& state);

}  // namespace tapegrad
