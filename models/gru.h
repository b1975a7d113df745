// GRU with PyTorch's equations (torch.nn.GRU), composed of primitive ops recorded on the tape.
//
//   [a_r; a_z; a_n] = W_ih x_t + b_ih           W_ih [3H, D], b_ih [3H]   (all steps in one GEMM)
//   [u_r; u_z; u_n] = W_hh h_{t-1} + b_hh       W_hh [3H, H], b_hh [3H]
//   r = σ(a_r + u_r),  z = σ(a_z + u_z)
//   n = tanh(a_n + r ⊙ u_n)                     (r multiplies U_n h + b_hn, as in PyTorch)
//   h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}  =  n + z ⊙ (h_{t-1} - n)
// 3H(D + H) + 6H parameters per layer, the same count and layout as PyTorch. Padding, states and
// stacking: models/recurrent.h.
#pragma once
#include <memory>
#include <vector>

#include "models/module.h"
#include "models/recurrent.h"

namespace tapegrad {

class GRULayer : public Module {
public:
    GRULayer(int64_t input_size, int64_t hidden_size, Generator& gen);
    LayerRun forward(const Tensor& x, const StepMasks& masks, Tensor h) const;
    Tensor weight_ih;  // [3H, D], rows r, z, n
    Tensor weight_hh;  // [3H, H]
    Tensor bias_ih;    // [3H]
    Tensor bias_hh;    // [3H]
};

class GRU : public Module {
public:
    GRU(int64_t input_size, int64_t hidden_size, Generator& gen, int64_t num_layers = 1);
    // x [B, T, D] -> output [B, T, H], final h [num_layers, B, H].
    RecurrentOutput forward(const Tensor& x, const std::vector<int64_t>& lengths = {},
                            const RecurrentState& initial = {}) const;
    static int64_t count_parameters(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1);

private:
    int64_t input_size_, hidden_size_;
    std::vector<std::unique_ptr<GRULayer>> layers_;
};

}  // namespace tapegrad
