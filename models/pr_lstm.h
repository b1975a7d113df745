/// \file
/// PR-LSTM (Gaudreault & Mao, "Parallel Recursive LSTM", arXiv 2605.17108), exactly as the
/// authors' released code computes it (docs/PR-LSTM.md):
///
/// leaf (token -> state, no forget gate, no previous state):
///   [a_i; a_g; a_o] = W_leaf x_t + b_leaf           W_leaf [3H, V+1]
///   c = σ(a_i) ⊙ tanh(a_g);  h = σ(a_o) ⊙ tanh(c)
/// binary merge B (two forget gates, no forget bias, no token input):
///   [i; g; o; f_L; f_R] = W_B [h_L; h_R] + b_B      W_B [5H, 2H]
///   c = σ(i) ⊙ tanh(g) + σ(f_L) ⊙ c_L + σ(f_R) ⊙ c_R;  h = σ(o) ⊙ tanh(c)
/// R unary refinements U_r after every merge (own weights each):
///   [i; g; o; f] = W_U h + b_U                       W_U [4H, H]
///   c' = σ(i) ⊙ tanh(g) + σ(f) ⊙ c;  h' = σ(o) ⊙ tanh(c')
/// M = U_R ∘ ... ∘ U_1 ∘ B, one set of weights shared by every level and position. Every prefix
/// state P[t] uses exactly the bracketing of jax.lax.associative_scan: write t+1 = 2^a1 + ... + 2^ak
/// (a1 > ... > ak), cut 0..t into aligned blocks of those sizes, reduce each block as a perfect
/// balanced tree, and fold the blocks left to right: P[t] = M(...M(M(D1, D2), D3)..., Dk).
/// readout at every position: logits_t = W_out relu(h_t) + b_out.
/// The cell states' updates are the LSTM gate block (lstm_state, models/lstm.h).
///
/// Two schedules (models/schedule.h) compute the prefixes: Reference builds the blocks level by
/// level and then folds each prefix on its own, as written above; Fast makes the same merges in
/// about 2 log2 n batched calls (one per level, then one per group of prefixes).
///
/// PR-RNN (the ablation): leaf h = W_leaf x + b (no activation, W_leaf [H, V+1]); binary
/// h = relu(W_B [h_L; h_R] + b_B) (W_B [H, 2H]); unary h' = relu(W_U h + b_U) (W_U [H, H]).
#pragma once
#include <memory>
#include <vector>

#include "../core/random.h"
#include "layers.h"
#include "schedule.h"

namespace tapegrad {

/// PR-LSTM's cell (the LSTM gate block) or the PR-RNN ablation's (see the file's description).
enum class PrCell { LSTM, RNN };

/// A batch of states over positions: h [B, m, H], and c [B, m, H] for the LSTM cell.
struct PrStates {
    /// h [B, m, H]; c [B, m, H] for the LSTM cell, undefined for PR-RNN
    ///@{
    Tensor h, c;
    ///@}
};

/// PR-LSTM, or with PrCell::RNN PR-RNN (see the file's description).
class PrLstm : public Module {
public:
    /// input_size = V + 1 (one-hot with the empty token), refinements = R.
    PrLstm(int64_t input_size, int64_t hidden_size, int64_t output_size, Generator& gen, int64_t refinements = 1,
           PrCell cell = PrCell::LSTM);
    /// x [B, n, V+1] -> logits [B, n, O]: the readout of every prefix state.
    Tensor forward(const Tensor& x) const;
    /// All prefix states P[0..n-1]: h [B, n, H] (and c).
    PrStates prefix_states(const Tensor& x) const;
    /// The leaf states of x [B, n, V+1].
    PrStates leaves(const Tensor& x) const;
    /// M(left, right) on batches of states [B, m, H]: one GEMM for the merge, one per refinement.
    PrStates merge(const PrStates& left, const PrStates& right) const;
    /// Batched merge calls made by the last prefix_states() (the fast schedule: about 2 log2 n).
    int64_t merge_calls() const { return merge_calls_; }

    const int64_t hidden_size;  ///< H
    const PrCell cell;  ///< LSTM or RNN
    /// the leaf map W_leaf, the binary merge W_B, the readout W_out
    ///@{
    Linear leaf, merge_block, readout;
    ///@}
    std::vector<std::unique_ptr<Linear>> refine;  ///< the R unary refinements U_1 .. U_R
    Schedule schedule = Schedule::Fast;  ///< models/schedule.h

private:
    PrStates reference_prefixes(const Tensor& x) const;
    PrStates batched_prefixes(const Tensor& x) const;
    /// M on h_pairs = [h_L; h_R] [B, m, 2H] and c_left, c_right [B, m, H] (undefined for PR-RNN).
    PrStates merge_pairs(const Tensor& h_pairs, const Tensor& c_left, const Tensor& c_right) const;
    mutable int64_t merge_calls_ = 0;
};

}  // namespace tapegrad
