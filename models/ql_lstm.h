/// \file
/// QL-LSTM: our reading of "QL-LSTM: A Parameter-Efficient LSTM for Stable Long-Sequence
/// Modeling" (arXiv 2512.06582). The paper's body is not available; these are the equations we
/// implement (docs/QL-LSTM.md explains each choice).
///
/// PSUG (parameter-shared unified gating): one shared affine map with H outputs feeds all gates,
///   z_t = W x_t + U h_{t-1}                                W [H, D], U [H, H]
///   i = σ(a_i ⊙ z + b_i)   f = σ(a_f ⊙ z + b_f)   o = σ(a_o ⊙ z + b_o)   g = tanh(a_g ⊙ z + b_g)
///   c_t = i ⊙ g + f ⊙ c_{t-1};   h_t = o ⊙ tanh(c_t)          (the LSTM gate block, models/lstm.h)
/// (a_* optional gate-specific scales; without PSUG the gates come from a standard LSTM's 4H map.)
///
/// HGR-ASC (hierarchical gated recurrence with additive skip): the sequence is cut into blocks of K
/// steps. At the last step t of block k (or a sequence's last real step, for a final partial block):
///   m_k = pool(h over the block's real steps)   (mean or max; the block's last h before the skip)
///   s_k = tanh(W_s m_k + V_s s_{k-1} + b_s)     (V_s optional)
///   c_t <- c_t + s_k                            additive skip: bypasses the forget gate
///      or c_t <- f_skip ⊙ c_t + (1 - f_skip) ⊙ s_k,  f_skip = σ(W_f m_k + b_f)   (gated ablation)
///   h_t <- o_t ⊙ tanh(c_t)                      recomputed, so the summary reaches h at once
///
/// A recurrent cell like the others (run by run_recurrent, so padding is handled as for them); its
/// state carries, besides h and c, the block summary and the h of the block under way.
#pragma once
#include <memory>

#include "../core/random.h"
#include "lstm.h"

namespace tapegrad {

/// QL-LSTM's switches and sizes (see the file's description); the defaults are the full model.
struct QlLstmOptions {
    bool psug = true;              ///< shared gating; false = the standard LSTM gate map
    bool gate_scales = true;       ///< a_* (PSUG only)
    bool hgr = true;               ///< block summaries with the skip into c
    int64_t block_size = 16;       ///< K
    bool max_pool = false;         ///< pool = max instead of mean
    bool block_recurrence = true;  ///< V_s s_{k-1}
    bool gated_skip = false;       ///< f_skip ⊙ c + (1 - f_skip) ⊙ s_k instead of c + s_k
    double forget_bias = 1.0;      ///< initial b_f
};

/// The QL-LSTM cell (see the file's description).
class QlLstm : public RecurrentCell {
public:
    /// The layer for input_size D and hidden_size H with `options`, drawn from `gen`.
    QlLstm(int64_t input_size, int64_t hidden_size, Generator& gen, QlLstmOptions options = {});
    /// x [B, T, D], optional lengths -> output [B, T, H] (zero at padding) and the final state.
    RecurrentOutput forward(const Tensor& x, const std::vector<int64_t>& lengths = {},
                            const RecurrentState& initial = {}) const;
    /// Parameters of this layer for given sizes and options: the formula in docs/QL-LSTM.md.
    static int64_t parameter_count(int64_t input_size, int64_t hidden_size, const QlLstmOptions& options);

    bool has_cell_state() const override { return true; }  ///< true: it carries a cell state c
    RecurrentState step(const Tensor& x, const RecurrentState& previous, const StepContext& at) const override;
    Hoisted hoist(const Tensor& x) const override;
    RecurrentState fast_step(Hoisted& hoisted, const RecurrentState& previous, const StepContext& at) const override;

    const QlLstmOptions options;  ///< as constructed
    Schedule schedule = Schedule::Fast;  ///< models/schedule.h
    /// PSUG: W [H, D], U [H, H], gate biases and scales [H] each, in the order i, f, o, g.
    ///@{
    Tensor weight, recurrent_weight;
    Tensor gate_bias[4], gate_scale[4];
    ///@}
    /// Without PSUG: a standard LSTM cell (PyTorch layout).
    std::unique_ptr<LstmCell> lstm;
    /// HGR-ASC: W_s, V_s [H, H], b_s [H]; gated skip: W_f [H, H], b_f [H].
    ///@{
    Tensor summary_weight, summary_recurrent, summary_bias, skip_gate_weight, skip_gate_bias;
    ///@}

private:
    /// a ⊙ z + b (z + b without gate scales), a and b of one gate [H] or stacked [3, 1, H].
    Tensor scaled(const Tensor& z, const Tensor& scale, const Tensor& bias) const;
    /// Both schedules: c_t and h_t from the gates, then HGR-ASC at the end of a block.
    RecurrentState update(const LstmGates& gates, const RecurrentState& previous, const StepContext& at) const;
};

}  // namespace tapegrad
