// Elman RNN with tanh, composed of primitive ops recorded on the tape.
//
//   h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)       W_ih [H, D], W_hh [H, H], b [H]
//   backward: dz = dh_t ⊙ (1 - h_t²); dh_{t-1} = dz W_hh; dW_hh += dz^T h_{t-1}
// H(D + H) + H parameters per layer (one bias; PyTorch's two sum to it). The input projection of
// all steps is one GEMM before the loop (as in models/lstm.h). Padding, states and stacking:
// models/recurrent.h.
#pragma once
#include <memory>
#include <vector>

#include "models/module.h"
#include "models/recurrent.h"

namespace tapegrad {

class RNNLayer : public Module {
public:
    RNNLayer(int64_t input_size, int64_t hidden_size, Generator& gen);
    LayerRun forward(const Tensor& x, const StepMasks& masks, Tensor h) const;
    Tensor weight_ih;  // [H, D]
    Tensor weight_hh;  // [H, H]
    Tensor bias;       // [H]
};

class RNN : public Module {
public:
    RNN(int64_t input_size, int64_t hidden_size, Generator& gen, int64_t num_layers = 1);
    // x [B, T, D] -> output [B, T, H], final h [num_layers, B, H].
    RecurrentOutput forward(const Tensor& x, const std::vector<int64_t>& lengths = {},
                            const RecurrentState& initial = {}) const;
    static int64_t count_parameters(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1);

private:
    int64_t input_size_, hidden_size_;
    std::vector<std::unique_ptr<RNNLayer>> layers_;
};

}  // namespace tapegrad
