// PR-LSTM (Parallel Recursive LSTM, Gaudreault & Mao, arXiv:2605.17108), as in the authors'
// released code (tag v1.0.0); docs/PR-LSTM.md has the equations and the schedule.
//
// Every token becomes a leaf state independently; a gated merge M combines states; the prefix
// state at every position t is M folded over the aligned dyadic blocks of 0..t, exactly the
// bracketing that jax.lax.associative_scan uses (M is not associative, so the bracketing is
// part of the model). The readout is Linear(relu(h)) at every position.
//
//   leaf:    [i; g; o] = W_leaf x + b_leaf                   W_leaf [3H, V+1]
//            c = σ(i) ⊙ tanh(g),  h = σ(o) ⊙ tanh(c)
//   merge B: [i; g; o; f_L; f_R] = W_B [h_L; h_R] + b_B      W_B [5H, 2H]
//            c = σ(i) ⊙ tanh(g) + σ(f_L) ⊙ c_L + σ(f_R) ⊙ c_R,  h = σ(o) ⊙ tanh(c)
//   refine U_r (r = 0..R-1, after every merge):
//            [i; g; o; f] = W_U h + b_U                      W_U [4H, H]
//            c' = σ(i) ⊙ tanh(g) + σ(f) ⊙ c,  h' = σ(o) ⊙ tanh(c')
//   M(l, r) = U_{R-1} ∘ … ∘ U_0 ∘ B(l, r)
//
// PR-RNN ablation (cell = Rnn): leaf h = W_leaf x + b (no activation), merge
// h = relu(W_B [h_L; h_R] + b_B), refine h' = relu(W_U h + b_U); there is no c.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "models/module.h"

namespace tapegrad {

enum class PrCell { Lstm, Rnn };

struct PrLstmOptions {
    int64_t input_size = 0;     // V + 1 (one-hot width including the empty token)
    int64_t hidden_size = 256;  // H
    int64_t output_size = 0;    // O
    int refinements = 1;        // R unary refinements after every binary merge
    PrCell cell = PrCell::Lstm;
};

// The state of a batch of tree nodes: h and c [N, H] (c undefined for PR-RNN).
struct PrState {
    Tensor h, c;
};

class PrLstm : public Module {
public:
    PrLstm(const PrLstmOptions& options, Generator& gen);

    // x [B, n, V+1] -> logits [B, n, O], the readout of every prefix state.
    Tensor forward(const Tensor& x);
    // x [B, n, V+1] -> the prefix states, h and c each [B, n, H].
    PrState prefix_states(const Tensor& x);

    // The leaf encoder on rows: x [N, V+1] -> state [N, H].
    PrState leaf(const Tensor& x_rows) const;
    // M(left, right) on N pairs of rows at once: states [N, H] -> [N, H]. One binary-merge GEMM
    // [N, 2H] x [2H, 5H] and R refinement GEMMs; counts one batched merge call.
    PrState merge(const PrState& left, const PrState& right);

    // Batched merge calls since construction or the last reset: per forward, one per level of
    // aligned blocks (floor(log2 n)) plus one per prefix group (floor(log2(n/3)) + 1 for n >= 3),
    // whatever B is; the same count as JAX's recursion.
    int64_t merge_calls() const { return merge_calls_; }
    void reset_merge_calls() { merge_calls_ = 0; }

    const PrLstmOptions& options() const { return options_; }

    Tensor leaf_weight, leaf_bias;        // [3H, V+1], [3H]   (PR-RNN: [H, V+1], [H])
    Tensor merge_weight, merge_bias;      // [5H, 2H], [5H]    (PR-RNN: [H, 2H], [H])
    std::vector<Tensor> refine_weights;   // R x [4H, H]       (PR-RNN: [H, H])
    std::vector<Tensor> refine_biases;    // R x [4H]          (PR-RNN: [H])
    Tensor readout_weight, readout_bias;  // [O, H], [O]

private:
    PrState refine(const PrState& state, int r) const;
    // M on rows h_pairs = [h_L; h_R] [N, 2H], c_left, c_right [N, H] (undefined for PR-RNN).
    PrState merge_pairs(const Tensor& h_pairs, const Tensor& c_left, const Tensor& c_right);
    PrState scan(const Tensor& x, bool with_c);
    PrLstmOptions options_;
    int64_t merge_calls_ = 0;
};

// Parameters of a PR-LSTM (or PR-RNN) with these options, from the shapes above.
int64_t pr_lstm_parameter_count(const PrLstmOptions& options);

// Weights ~ TruncatedNormal(0, 1/sqrt(fan_in)) cut at ±2σ (redrawn outside, no variance
// correction): haiku's default for hk.Linear. shape [out, in], fan_in = in.
Tensor truncated_normal_init(const Shape& shape, int64_t fan_in, Generator& gen);

}  // namespace tapegrad
