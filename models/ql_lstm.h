// QL-LSTM: OUR READING of "QL-LSTM: A Parameter-Efficient LSTM for Stable Long-Sequence
// Modeling" (arXiv 2512.06582). The paper's body is not available; these equations are a
// reconstruction from its abstract and third-party summaries (see docs/QL-LSTM.md), composed of
// primitive ops recorded on the tape.
//
// PSUG (parameter-shared unified gating), options.psug:
//   z_t = W x_t + U h_{t-1}                       W [H, D], U [H, H]: ONE shared map, H outputs
//   i = σ(a_i ⊙ z + b_i)   f = σ(a_f ⊙ z + b_f)   g = tanh(a_g ⊙ z + b_g)   o = σ(a_o ⊙ z + b_o)
//   gate-specific biases b_* [H] and (options.gate_scales) elementwise scales a_* [H], init 1;
//   stored as [4H] vectors in the order i, f, g, o and applied to [z; z; z; z].
// Without PSUG the gates are a plain LSTM's (models/lstm.h).
//   c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
//
// HGR-ASC (hierarchical gated recurrence, additive skip), options.hgr_asc: the steps are cut
// into blocks of K (options.block_size). At the last step t of block k (t mod K = K-1), after
// c_t and h_t are computed:
//   m_k = pool(h_{t-K+1..t})                      mean or max over the block's K states
//   s_k = tanh(W_s m_k + V_s s_{k-1} + b_s)       W_s, V_s [H, H], b_s [H]; s_0 = 0;
//                                                 V_s only with options.block_recurrence
//   additive skip:   c_t <- c_t + s_k             (bypasses the forget gate: dc_t/ds_k = I)
//   gated skip:      c_t <- f_s ⊙ c_t + (1 - f_s) ⊙ s_k,  f_s = σ(W_f s_k + b_f)   (options.gated_skip;
//                                                 W_f [H, H], b_f [H]; our choice of gate input)
// Decisions (ours): h_t at the block end is NOT recomputed (the output at t is the pre-skip
// h_t; the skip reaches the outputs from step t+1 on through c), and a final partial block
// (T mod K != 0, or a row that ends mid-block) produces no summary. A row's block whose end lies
// in its padding is masked like any other padding step, so padding never reaches real outputs.
// The input projection of all steps is one GEMM before the loop (as in models/lstm.h), so with
// PSUG each step runs a [B, H] x [H, H] product: a quarter of the LSTM's.
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include "models/module.h"
#include "models/recurrent.h"

namespace tapegrad {

enum class BlockPooling { Mean, Max };

struct QLLSTMOptions {
    bool psug = true;
    bool gate_scales = true;
    bool hgr_asc = true;
    int64_t block_size = 16;
    BlockPooling pooling = BlockPooling::Mean;
    bool block_recurrence = true;
    bool gated_skip = false;
    int64_t num_layers = 1;
    std::optional<double> forget_bias;  // initial b_f; unset: random like the other biases
};

class QLLSTMLayer : public Module {
public:
    QLLSTMLayer(int64_t input_size, int64_t hidden_size, Generator& gen, const QLLSTMOptions& options);
    LayerRun forward(const Tensor& x, const StepMasks& masks, Tensor h, Tensor c) const;

private:
    // The [B, 4H] gate pre-activations, order i, f, g, o, from the step's [B, H or 4H] z.
    Tensor gate_inputs(const Tensor& z) const;
    QLLSTMOptions options_;
    Tensor weight_ih_, weight_hh_;   // PSUG: [H, D], [H, H]; plain: [4H, D], [4H, H]
    Tensor gate_bias_, gate_scale_;  // [4H]; gate_scale_ only with PSUG and gate scales
    Tensor summary_weight_, summary_recurrent_, summary_bias_;  // W_s, V_s [H, H], b_s [H]
    Tensor skip_gate_weight_, skip_gate_bias_;                  // W_f [H, H], b_f [H]
};

class QLLSTM : public Module {
public:
    QLLSTM(int64_t input_size, int64_t hidden_size, Generator& gen, const QLLSTMOptions& options = {});
    // x [B, T, D] -> output [B, T, H], final h, c [num_layers, B, H].
    RecurrentOutput forward(const Tensor& x, const std::vector<int64_t>& lengths = {},
                            const RecurrentState& initial = {}) const;
    // Per layer: PSUG H(D + H) + 4H (+ 4H scales), else 4H(D + H) + 4H; HGR-ASC adds H² + H
    // (+ H² for V_s, + H² + H for the gated skip).
    static int64_t count_parameters(int64_t input_size, int64_t hidden_size, const QLLSTMOptions& options = {});

private:
    int64_t input_size_, hidden_size_;
    std::vector<std::unique_ptr<QLLSTMLayer>> layers_;
};

}  // namespace tapegrad
