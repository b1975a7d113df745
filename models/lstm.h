// LSTM, composed of primitive ops recorded on the tape.
//
//   [i; f; g; o] = W_ih x_t + W_hh h_{t-1} + b     W_ih [4H, D], W_hh [4H, H], b [4H]  (PyTorch gate order)
//   i = σ(.), f = σ(.), g = tanh(.), o = σ(.)
//   c_t = f ⊙ c_{t-1} + i ⊙ g
//   h_t = o ⊙ tanh(c_t)
// One bias vector (PyTorch keeps b_ih and b_hh, whose sum is this b): 4H(D + H) + 4H parameters
// per layer.
//
// Schedule: the input projection of ALL time steps is hoisted out of the loop into one GEMM,
// X W_ih^T + b : [B·T, D] x [D, 4H]; its backward is then one GEMM for dX and one for dW_ih over
// all steps. Inside the loop only h_{t-1} W_hh^T ([B, H] x [H, 4H]) and the gate arithmetic run;
// their backward is dh_{t-1} = dz_t W_hh and dW_hh += dz_t^T h_{t-1} per step (the tape
// accumulates dW_hh one step at a time). Gradients: σ' = σ(1-σ), tanh' = 1 - tanh², through the
// products by the product rule; see ops/.
// Padded batches, initial/final state and stacking follow models/recurrent.h.
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include "models/module.h"
#include "models/recurrent.h"

namespace tapegrad {

// One LSTM layer over x [B, T, D] from h0, c0 [B, H]; gate order i, f, g, o.
LayerRun lstm_layer(const Tensor& x, const StepMasks& masks, Tensor h, Tensor c, const Tensor& weight_ih,
                    const Tensor& weight_hh, const Tensor& bias);

struct LSTMOptions {
    int64_t num_layers = 1;
    // Initial value of the forget-gate bias (e.g. 1.0, Jozefowicz et al. 2015); unset: random
    // like the other biases.
    std::optional<double> forget_bias;
};

class LSTMLayer : public Module {
public:
    LSTMLayer(int64_t input_size, int64_t hidden_size, Generator& gen, std::optional<double> forget_bias);
    LayerRun forward(const Tensor& x, const StepMasks& masks, const Tensor& h0, const Tensor& c0) const;
    Tensor weight_ih;  // [4H, D]
    Tensor weight_hh;  // [4H, H]
    Tensor bias;       // [4H]
};

class LSTM : public Module {
public:
    LSTM(int64_t input_size, int64_t hidden_size, Generator& gen, const LSTMOptions& options = {});
    // x [B, T, D] -> output [B, T, H], final state h, c [num_layers, B, H].
    RecurrentOutput forward(const Tensor& x, const std::vector<int64_t>& lengths = {},
                            const RecurrentState& initial = {}) const;
    int64_t input_size() const { return input_size_; }
    int64_t hidden_size() const { return hidden_size_; }
    // 4H(D + H) + 4H for the first layer, 4H(H + H) + 4H for each further one.
    static int64_t count_parameters(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1);

private:
    int64_t input_size_, hidden_size_;
    std::vector<std::unique_ptr<LSTMLayer>> layers_;
};

}  // namespace tapegrad
