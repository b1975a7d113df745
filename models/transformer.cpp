#include "transformer.h"

#include <cmath>

#include "../autograd/tape.h"
#include "../ops/elementwise.h"
#include "../ops/linalg.h"
#include "../ops/nn.h"
#include "sequence_lengths.h"
#include "../ops/shape_ops.h"

namespace tapegrad {

Tensor sinusoidal_positions(int64_t steps, int64_t d, DType dtype, Device device) {
    std::vector<double> pe(steps * d);
    for (int64_t t = 0; t < steps; ++t)
        for (int64_t i = 0; i < d; ++i) {
            double angle = double(t) / std::pow(10000.0, double(i - i % 2) / double(d));
            pe[t * d + i] = i % 2 == 0 ? std::sin(angle) : std::cos(angle);
        }
    return Tensor::from_values(pe, {steps, d}, dtype, device);
}

namespace {
// The options, checked before any layer is built from them (d_model / heads is the head width).
const TransformerOptions& validated(const TransformerOptions& o) {
    checked_size("Transformer", "d_model", o.d_model);
    checked_size("Transformer", "heads", o.heads);
    checked_size("Transformer", "layers", o.layers, 0);
    if (o.d_model % o.heads != 0)
        fail("Transformer", "d_model {} is not divisible by {} heads (expected d_model = heads * head width)",
             o.d_model, o.heads);
    return o;
}
}  // namespace

TransformerBlock::TransformerBlock(const TransformerOptions& o, Generator& gen, uint64_t dropout_seed)
    : norm_attention(validated(o).d_model),
      norm_ffn(o.d_model),
      qkv(o.d_model, 3 * o.d_model, gen),
      attention_out(o.d_model, o.d_model, gen),
      ffn_in(o.d_model, 4 * o.d_model, gen),
      ffn_out(4 * o.d_model, o.d_model, gen),
      dropout_attention(o.dropout, dropout_seed),
      dropout_ffn(o.dropout, dropout_seed + 1),
      heads(o.heads) {
    register_module("norm_attention", &norm_attention);
    register_module("qkv", &qkv);
    register_module("attention_out", &attention_out);
    register_module("norm_ffn", &norm_ffn);
    register_module("ffn_in", &ffn_in);
    register_module("ffn_out", &ffn_out);
    register_module("dropout_attention", &dropout_attention);
    register_module("dropout_ffn", &dropout_ffn);
}

Tensor TransformerBlock::forward(const Tensor& x, const Tensor& mask) {
    const int64_t B = x.shape()[0], T = x.shape()[1], d = x.shape()[2], dh = d / heads;
    Tensor attended;
    {
        NameScope scope("attention");
        std::vector<Tensor> qkv_parts = chunk(qkv.forward(norm_attention.forward(x)), 3, -1);
        // [B, T, d] -> [B, heads, T, dh] -> [B*heads, T, dh]
        auto split_heads = [&](const Tensor& t) {
            return reshape(permute(reshape(t, {B, T, heads, dh}), {0, 2, 1, 3}), {B * heads, T, dh});
        };
        Tensor q = split_heads(qkv_parts[0]), k = split_heads(qkv_parts[1]), v = split_heads(qkv_parts[2]);
        Tensor scores = matmul(q, transpose(k, 1, 2)) * (1.0 / std::sqrt(double(dh)));  // [B*heads, T, T]
        if (mask.defined()) scores = scores + mask;
        Tensor context = matmul(softmax(scores, -1), v);                                  // [B*heads, T, dh]
        context = reshape(permute(reshape(context, {B, heads, T, dh}), {0, 2, 1, 3}), {B, T, d});
        attended = x + dropout_attention.forward(attention_out.forward(context));
    }
    NameScope scope("ffn");
    Tensor hidden = relu(ffn_in.forward(norm_ffn.forward(attended)));
    return attended + dropout_ffn.forward(ffn_out.forward(hidden));
}

TransformerEncoder::TransformerEncoder(int64_t vocab_size, int64_t input_size, TransformerOptions o, Generator& gen)
    : options(validated(o)), final_norm(o.d_model) {
    if (vocab_size > 0) {
        embedding = std::make_unique<Embedding>(vocab_size, o.d_model, gen);
        register_module("embedding", embedding.get());
    } else {
        input_projection = std::make_unique<Linear>(input_size, o.d_model, gen);
        register_module("input_projection", input_projection.get());
    }
    for (int64_t l = 0; l < o.layers; ++l) {
        blocks.push_back(std::make_unique<TransformerBlock>(o, gen, o.dropout_seed + 2 * uint64_t(l)));
        register_module("blocks." + std::to_string(l), blocks.back().get());
    }
    register_module("final_norm", &final_norm);
}

Tensor TransformerEncoder::forward(const Tensor& inputs, const std::vector<int64_t>& lengths) {
    if (inputs.dim() != (embedding ? 2 : 3))
        fail("transformer", "expected {}, got {}", embedding ? "token ids [B, T]" : "inputs [B, T, D]", inputs.describe());
    const int64_t B = inputs.shape()[0], T = inputs.shape()[1];
    resolve_lengths("transformer", B, T, lengths);
    Tensor x = embedding ? embedding->forward(inputs) : input_projection->forward(inputs);
    x = x + sinusoidal_positions(T, options.d_model, x.dtype(), x.device());
    Tensor mask;
    if (!lengths.empty() || options.causal) {
        // [B*heads, T, T]: -1e9 on padded keys and (causal) on future keys.
        std::vector<double> m(B * options.heads * T * T, 0.0);
        for (int64_t b = 0; b < B; ++b)
            for (int64_t h = 0; h < options.heads; ++h)
                for (int64_t i = 0; i < T; ++i)
                    for (int64_t j = 0; j < T; ++j) {
                        bool padded_key = !lengths.empty() && j >= lengths[b];
                        bool future = options.causal && j > i;
                        if (padded_key || future) m[((b * options.heads + h) * T + i) * T + j] = -1e9;
                    }
        mask = Tensor::from_values(m, {B * options.heads, T, T}, x.dtype(), x.device());
    }
    for (size_t l = 0; l < blocks.size(); ++l) {
        NameScope scope("block" + std::to_string(l));
        x = blocks[l]->forward(x, mask);
    }
    return final_norm.forward(x);
}

}  // namespace tapegrad
