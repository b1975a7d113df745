/// \file
/// The Elman RNN (PyTorch's nn.RNN, tanh):  h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
#pragma once
#include "../core/random.h"
#include "recurrent_cell.h"

namespace tapegrad {

/// The Elman RNN cell (see the file's description).
class RnnCell : public RecurrentCell {
public:
    /// W_ih, W_hh, b_ih and b_hh drawn from `gen` (recurrent_init).
    RnnCell(int64_t input_size, int64_t hidden_size, Generator& gen);
    RecurrentState step(const Tensor& x, const RecurrentState& previous, const StepContext& at) const override;
    Hoisted hoist(const Tensor& x) const override;
    RecurrentState fast_step(Hoisted& hoisted, const RecurrentState& previous, const StepContext& at) const override;
    /// [H, D], [H, H], [H], [H]
    ///@{
    Tensor weight_ih, weight_hh, bias_ih, bias_hh;
    ///@}
};

}  // namespace tapegrad
