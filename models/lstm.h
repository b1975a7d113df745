/// \file
/// The LSTM cell, and the LSTM gate block that every LSTM-type cell uses (LstmCell and so BiLstm,
/// QL-LSTM, PR-LSTM's leaf, merge and refinements).
#pragma once
#include <vector>

#include "../core/random.h"
#include "recurrent_cell.h"

namespace tapegrad {

/// The four gates of an LSTM-type step, activated; each [B, H] (PR-LSTM: [B, m, H]).
struct LstmGates {
    /// i, f, g, o
    ///@{
    Tensor input_gate, forget_gate, candidate, output_gate;
    ///@}
};

/// i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o) from the pre-activations a = {a_i, a_f, a_g, a_o},
/// each labelled by its gate (".../t=3/forget_gate").
LstmGates lstm_gates(const std::vector<Tensor>& a);

/// One term f_k ⊙ c_k of the cell-state update: a forget gate and the cell state it keeps.
struct Forget {
    /// the forget gate f_k and the cell state c_k it keeps
    ///@{
    Tensor gate, c;
    ///@}
};

/// The gate block: the new state from the gates,
///   c' = i ⊙ g + Σ_k f_k ⊙ c_k        one forget term for an LSTM step, two for PR-LSTM's binary
///   h' = o ⊙ tanh(c')                 merge, none for its leaf
/// labelled "c" and "h" (the labels autograd/grad_flow.h finds states by).
RecurrentState lstm_state(const Tensor& input_gate, const Tensor& candidate, const Tensor& output_gate,
                          const std::vector<Forget>& forgets);
/// An LSTM step's gate block: c' = i ⊙ g + f ⊙ c;  h' = o ⊙ tanh(c').
RecurrentState lstm_state(const LstmGates& gates, const Tensor& c);
/// h = o ⊙ tanh(c), labelled "h" (the second half of the gate block).
Tensor lstm_hidden(const Tensor& output_gate, const Tensor& c);

/// The LSTM, PyTorch's nn.LSTM (gate order i, f, g, o):
///   [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh      [B, 4H]: one product per weight
///   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)                 for all four gates
///   c_t = i ⊙ g + f ⊙ c_{t-1};   h_t = o ⊙ tanh(c_t)
class LstmCell : public RecurrentCell {
public:
    /// forget_bias: added to the forget gate's bias at initialisation (1.0 is common; 0 = PyTorch).
    LstmCell(int64_t input_size, int64_t hidden_size, Generator& gen, double forget_bias = 0.0);
    bool has_cell_state() const override { return true; }  ///< true: an LSTM has a cell state c
    RecurrentState step(const Tensor& x, const RecurrentState& previous, const StepContext& at) const override;
    Hoisted hoist(const Tensor& x) const override;
    RecurrentState fast_step(Hoisted& hoisted, const RecurrentState& previous, const StepContext& at) const override;

    /// The pre-activations {a_i, a_f, a_g, a_o}, each [B, H], of the step from x_t [B, D] and h_{t-1}
    /// (Reference), or from the recurrent product of the hoisted inputs (Fast: views of the
    /// gate-major z_t [4, B, H]).
    std::vector<Tensor> preactivations(const Tensor& x, const Tensor& h) const;
    /// The same from the Fast schedule's recurrent product of h_{t-1} (see preactivations).
    std::vector<Tensor> fast_preactivations(RecurrentLinear& recurrent, const Tensor& h) const;

    /// [4H, D], [4H, H], [4H], [4H]
    ///@{
    Tensor weight_ih, weight_hh, bias_ih, bias_hh;
    ///@}
};

}  // namespace tapegrad
