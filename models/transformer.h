/// \file
/// A Transformer encoder baseline (Delétang et al.'s defaults: d_model 64, 8 heads, 5 layers,
/// dropout 0.1, sin/cos positions), composed of primitives: matmul, softmax and the LayerNorm
/// composition. Pre-LN blocks (LayerNorm before attention and before the feed-forward, a final
/// LayerNorm after the last block):
///   x <- x + Dropout(MHA(LN(x)));   x <- x + Dropout(W_2 relu(W_1 LN(x) + b_1) + b_2)   (W_1: d -> 4d)
///   MHA(x) = W_o concat_heads(softmax(Q K^T / sqrt(d_head) + mask) V),  [Q; K; V] = W_qkv x + b_qkv
/// The mask adds -1e9 to scores of padded keys (positions >= length) and, if causal, of future keys.
#pragma once
#include <memory>
#include <vector>

#include "../core/random.h"
#include "layers.h"

namespace tapegrad {

/// The Transformer's sizes and dropout.
struct TransformerOptions {
    /// the model width, the attention heads (dividing d_model), the blocks
    ///@{
    int64_t d_model = 64, heads = 8, layers = 5;
    ///@}
    double dropout = 0.1;  ///< dropout probability after attention and after the feed-forward
    bool causal = false;  ///< mask future keys (a decoder's attention)
    uint64_t dropout_seed = 0;  ///< seeds the dropout layers: block l's use dropout_seed + 2l and + 2l + 1
};

/// One pre-LN block: attention and feed-forward, each with its LayerNorm, dropout and residual (see the file's description).
class TransformerBlock : public Module {
public:
    /// The block's layers for `options`, drawn from `gen`; its two dropouts seeded with dropout_seed and dropout_seed + 1.
    TransformerBlock(const TransformerOptions& options, Generator& gen, uint64_t dropout_seed);
    /// x [B, T, d]; mask broadcastable to [B*heads, T, T] (0 or -1e9), may be undefined.
    Tensor forward(const Tensor& x, const Tensor& mask);
    /// the LayerNorms before attention and before the feed-forward
    ///@{
    LayerNorm norm_attention, norm_ffn;
    ///@}
    /// W_qkv, W_o, W_1, W_2
    ///@{
    Linear qkv, attention_out, ffn_in, ffn_out;
    ///@}
    /// after attention and after the feed-forward
    ///@{
    Dropout dropout_attention, dropout_ffn;
    ///@}
    const int64_t heads;  ///< the number of attention heads
};

/// The Transformer encoder: an input embedding or projection, sinusoidal positions, the blocks and a final LayerNorm.
class TransformerEncoder : public Module {
public:
    /// vocab_size > 0: token ids [B, T] through an embedding; otherwise inputs [B, T, input_size]
    /// (e.g. one-hot) through a linear projection.
    TransformerEncoder(int64_t vocab_size, int64_t input_size, TransformerOptions options, Generator& gen);
    /// -> hidden states [B, T, d_model]; lengths (optional) mask padded keys.
    Tensor forward(const Tensor& inputs, const std::vector<int64_t>& lengths = {});
    const TransformerOptions options;  ///< as constructed
    std::unique_ptr<Embedding> embedding;  ///< the token embedding (vocab_size > 0), else null
    std::unique_ptr<Linear> input_projection;  ///< the input projection (vocab_size <= 0), else null
    std::vector<std::unique_ptr<TransformerBlock>> blocks;  ///< the blocks, first to last
    LayerNorm final_norm;  ///< the LayerNorm after the last block
};

/// Sinusoidal positions [T, d]: PE[t, 2i] = sin(t / 10000^(2i/d)), PE[t, 2i+1] = cos(...).
Tensor sinusoidal_positions(int64_t steps, int64_t d_model, DType dtype, Device device);

}  // namespace tapegrad
