/// \file
/// A bidirectional LSTM, stacked like PyTorch's nn.LSTM(bidirectional=True): layer l has a forward
/// and a backward cell; layer 0 reads x [B, T, D], layer l > 0 reads the concatenated [B, T, 2H]
/// outputs of BOTH directions of layer l-1. The backward cell reads each sequence reversed within
/// its own length (padding stays at the end) and its outputs are reversed back. Output: the last
/// layer's [B, T, 2H] (forward half first); last = {layer 0 forward, layer 0 backward, layer 1
/// forward, ...} (PyTorch's h_n order, index 2l + direction).
/// Parameters: "forward.layers.<l>.weight_ih" [4H, D] for l = 0 and [4H, 2H] for l > 0,
/// "forward.layers.<l>.weight_hh" [4H, H], biases [4H], the same under "backward.layers.<l>".
#pragma once
#include <memory>
#include <vector>

#include "../core/random.h"
#include "lstm.h"

namespace tapegrad {

/// A stacked bidirectional LSTM (see the file's description).
class BiLstm : public Module {
public:
    /// num_layers layers of a forward and a backward LstmCell of hidden_size each, layer 0 reading input_size features; forget_bias as LstmCell's.
    BiLstm(int64_t input_size, int64_t hidden_size, int64_t num_layers, Generator& gen, double forget_bias = 0.0);
    /// x [B, T, D], optional lengths -> output [B, T, 2H] (zero at padding) and the final state of each layer and direction.
    RecurrentOutput forward(const Tensor& x, const std::vector<int64_t>& lengths = {}) const;
    /// one per layer
    ///@{
    std::vector<std::unique_ptr<LstmCell>> forward_cells, backward_cells;
    ///@}
    Schedule schedule = Schedule::Fast;                                    ///< models/schedule.h
};

/// x [B, T, ...] with each sequence's first lengths[b] steps reversed (an involution).
Tensor reverse_within_lengths(const Tensor& x, const std::vector<int64_t>& lengths);

}  // namespace tapegrad
