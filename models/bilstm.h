// Bidirectional LSTM: per layer, a forward LSTM over x and a backward LSTM over each sequence
// reversed WITHIN ITS OWN LENGTH (row b: positions 0..len_b-1 reversed, padding left in place), so
// the backward direction starts at the last real token, never at padding. The backward output is
// reversed back and concatenated: output [B, T, 2H] = [forward h_t ; backward h_t]. Layer k > 0
// reads the 2H-wide output of layer k-1. Final states are [2 · num_layers, B, H], entry 2k the
// forward and 2k+1 the backward direction of layer k (PyTorch's layout). The reversal is an
// index_select (gradient: scatter-add back). Cell equations: models/lstm.h.
#pragma once
#include <memory>
#include <vector>

#include "models/lstm.h"

namespace tapegrad {

// Rows of x [B, T, D] reversed within each row's length (an involution).
Tensor reverse_within_lengths(const Tensor& x, const std::vector<int64_t>& lengths);

class BiLSTM : public Module {
public:
    BiLSTM(int64_t input_size, int64_t hidden_size, Generator& gen, const LSTMOptions& options = {});
    // x [B, T, D] -> output [B, T, 2H], final h, c [2 · num_layers, B, H].
    RecurrentOutput forward(const Tensor& x, const std::vector<int64_t>& lengths = {},
                            const RecurrentState& initial = {}) const;
    // 2 · LSTM per layer; layers after the first read 2H inputs.
    static int64_t count_parameters(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1);

private:
    int64_t input_size_, hidden_size_;
    std::vector<std::unique_ptr<LSTMLayer>> forward_, backward_;
};

}  // namespace tapegrad
