// Shared pieces of the recurrent layers (RNN, LSTM, GRU, BiLSTM, QL-LSTM).
//
// Conventions for every recurrent layer in models/:
// - input x is batch-first [B, T, D];
// - `lengths` (std::vector<int64_t> of B values in [0, T], or empty for "all T") makes x a
//   padded batch: row b is real for t < lengths[b]. At a padding step the state is carried over
//   unchanged, h_t = h_{t-1} + m_t (h_new - h_{t-1}) with m_t = [t < length] (the same for c),
//   so padding content never reaches a real position's output or gradient, and the final state
//   is the state after each row's last real token. Outputs at padding steps are zero;
// - states are [num_layers (x directions), B, H], PyTorch's layout; an undefined initial state
//   means zeros. RecurrentState::detach() cuts the graph for truncated BPTT.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace tapegrad {

struct RecurrentState {
    Tensor h;  // [L, B, H]
    Tensor c;  // [L, B, H]; undefined for cells without a cell state (RNN, GRU)
    RecurrentState detach() const;
};

struct RecurrentOutput {
    Tensor output;  // [B, T, H] (BiLSTM: [B, T, 2H])
    RecurrentState state;
};

// The per-step masks m_t [B, 1] of a padded batch, in x's dtype and device.
class StepMasks {
public:
    StepMasks(const std::vector<int64_t>& lengths, const Tensor& x);
    // True when every row is real at step t: no masking needed.
    bool all_real(int64_t t) const { return t < min_length_; }
    const Tensor& at(int64_t t) const { return masks_[size_t(t)]; }
    const std::vector<int64_t>& lengths() const { return lengths_; }

private:
    std::vector<int64_t> lengths_;
    int64_t min_length_ = 0;
    std::vector<Tensor> masks_;  // defined only for steps where some row is padding
};

// old + m_t (new - old) where step t has padding rows; `updated` itself otherwise.
Tensor masked_update(const StepMasks& masks, int64_t t, const Tensor& updated, const Tensor& old);
// m_t h: the output at step t, zero at padding rows.
Tensor masked_output(const StepMasks& masks, int64_t t, const Tensor& h);

// Throws naming `op` unless x is [B, T, input_size] (float) and lengths has B values in [0, T].
void check_sequence(const char* op, const Tensor& x, int64_t input_size, const std::vector<int64_t>& lengths);

// Entry `index` of a stacked state [N, B, H] as [B, H], or zeros [B, H] if `state` is undefined.
Tensor state_entry(const char* op, const Tensor& state, int64_t index, int64_t count, const Tensor& x,
                   int64_t hidden);

// U(-1/sqrt(H), 1/sqrt(H)), PyTorch's initialisation of recurrent weights and biases.
Tensor recurrent_init(const Shape& shape, int64_t hidden, Generator& gen);

// One layer's result: output [B, T, H], final h and c [B, H] (c undefined without a cell state).
struct LayerRun {
    Tensor output;
    Tensor h;
    Tensor c;
};

// layer(x, h0, c0, k) runs layer k; returns its output and final state.
using LayerFn = std::function<LayerRun(const Tensor& x, const Tensor& h0, const Tensor& c0, int64_t k)>;

// Stacks num_layers layers: layer k reads layer k-1's output; gathers the final states into
// [num_layers, B, H].
RecurrentOutput run_layers(const char* op, const Tensor& x, int64_t num_layers, int64_t hidden, bool has_cell,
                           const RecurrentState& initial, const LayerFn& layer);

}  // namespace tapegrad
