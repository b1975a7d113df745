/// \file
/// The GRU, PyTorch's nn.GRU (gate order r, z, n):
///   [r_x, z_x, n_x] = W_ih x_t + b_ih,   [r_h, z_h, n_h] = W_hh h_{t-1} + b_hh     each [B, 3H]
///   r = σ(r_x + r_h);   z = σ(z_x + z_h);   n = tanh(n_x + r ⊙ n_h)
///   h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
#pragma once
#include <vector>

#include "../core/random.h"
#include "recurrent_cell.h"

namespace tapegrad {

/// The GRU cell (see the file's description).
class GruCell : public RecurrentCell {
public:
    /// W_ih, W_hh, b_ih and b_hh drawn from `gen` (recurrent_init).
    GruCell(int64_t input_size, int64_t hidden_size, Generator& gen);
    RecurrentState step(const Tensor& x, const RecurrentState& previous, const StepContext& at) const override;
    Hoisted hoist(const Tensor& x) const override;
    RecurrentState fast_step(Hoisted& hoisted, const RecurrentState& previous, const StepContext& at) const override;
    /// [3H, D], [3H, H], [3H], [3H]
    ///@{
    Tensor weight_ih, weight_hh, bias_ih, bias_hh;
    ///@}

private:
    /// Both schedules: the gates and h_t from {r_x, z_x, n_x} and {r_h, z_h, n_h}, each [B, H].
    RecurrentState gates(const std::vector<Tensor>& xs, const std::vector<Tensor>& hs, const Tensor& h) const;
};

}  // namespace tapegrad
