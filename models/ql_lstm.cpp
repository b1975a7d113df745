#include "models/ql_lstm.h"

#include <fmt/format.h>

#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace tapegrad {

QLLSTMLayer::QLLSTMLayer(int64_t input_size, int64_t hidden_size, Generator& gen, const QLLSTMOptions& options)
    : options_(options) {
    const int64_t h = hidden_size, rows = options.psug ? h : 4 * h;
    weight_ih_ = recurrent_init({rows, input_size}, h, gen);
    weight_hh_ = recurrent_init({rows, h}, h, gen);
    gate_bias_ = recurrent_init({4 * h}, h, gen);
    if (options.forget_bias) {
        std::vector<float> b = gate_bias_.to_vector<float>();
        for (int64_t j = h; j < 2 * h; ++j) b[size_t(j)] = float(*options.forget_bias);
        gate_bias_ = Tensor::from_vector(b, {4 * h});
    }
    register_parameter("weight_ih", &weight_ih_);
    register_parameter("weight_hh", &weight_hh_);
    register_parameter("gate_bias", &gate_bias_);
    if (options.psug && options.gate_scales) {
        gate_scale_ = Tensor::ones({4 * h});
        register_parameter("gate_scale", &gate_scale_);
    }
    if (!options.hgr_asc) return;
    summary_weight_ = recurrent_init({h, h}, h, gen);
    summary_bias_ = recurrent_init({h}, h, gen);
    register_parameter("summary_weight", &summary_weight_);
    register_parameter("summary_bias", &summary_bias_);
    if (options.block_recurrence) {
        summary_recurrent_ = recurrent_init({h, h}, h, gen);
        register_parameter("summary_recurrent", &summary_recurrent_);
    }
    if (options.gated_skip) {
        skip_gate_weight_ = recurrent_init({h, h}, h, gen);
        skip_gate_bias_ = recurrent_init({h}, h, gen);
        register_parameter("skip_gate_weight", &skip_gate_weight_);
        register_parameter("skip_gate_bias", &skip_gate_bias_);
    }
}

Tensor QLLSTMLayer::gate_inputs(const Tensor& z) const {
    if (!options_.psug) return z + gate_bias_;
    const Tensor shared = concat({z, z, z, z}, 1);  // [B, 4H]: the one z feeds every gate
    return gate_scale_.defined() ? shared * gate_scale_ + gate_bias_ : shared + gate_bias_;
}

LayerRun QLLSTMLayer::forward(const Tensor& x, const StepMasks& masks, Tensor h, Tensor c) const {
    const int64_t batch = x.size(0), steps = x.size(1), rows = weight_ih_.size(0), k = options_.block_size;
    const Tensor projected = linear(x, weight_ih_, Tensor());  // [B, T, H or 4H], all steps in one GEMM
    Tensor s = options_.hgr_asc ? Tensor::zeros(h.shape(), h.dtype(), h.device()) : Tensor();
    std::vector<Tensor> outputs, block;
    outputs.reserve(size_t(steps));
    for (int64_t t = 0; t < steps; ++t) {
        Tensor z = reshape(slice(projected, 1, t, t + 1), {batch, rows}) + linear(h, weight_hh_, Tensor());
        std::vector<Tensor> zs = chunk(gate_inputs(z), 4, 1);
        Tensor i = sigmoid(zs[0]), f = sigmoid(zs[1]), g = tanh(zs[2]), o = sigmoid(zs[3]);
        Tensor c_new = f * c + i * g;
        Tensor h_new = o * tanh(c_new);
        c = masked_update(masks, t, c_new, c);
        h = masked_update(masks, t, h_new, h);
        outputs.push_back(masked_output(masks, t, h_new));
        if (!options_.hgr_asc) continue;
        block.push_back(h);
        if (int64_t(block.size()) < k) continue;
        const Tensor states = stack(block, 1);  // [B, K, H]
        block.clear();
        const Tensor m = options_.pooling == BlockPooling::Mean ? mean(states, 1) : max(states, 1);
        Tensor a = linear(m, summary_weight_, summary_bias_);
        if (summary_recurrent_.defined()) a = a + linear(s, summary_recurrent_, Tensor());
        const Tensor s_new = tanh(a);
        Tensor c_skip;
        if (options_.gated_skip) {
            const Tensor f_skip = sigmoid(linear(s_new, skip_gate_weight_, skip_gate_bias_));
            c_skip = s_new + f_skip * (c - s_new);
        } else {
            c_skip = c + s_new;
        }
        c = masked_update(masks, t, c_skip, c);
        s = masked_update(masks, t, s_new, s);
    }
    return {stack(outputs, 1), h, c};
}

QLLSTM::QLLSTM(int64_t input_size, int64_t hidden_size, Generator& gen, const QLLSTMOptions& options)
    : input_size_(input_size), hidden_size_(hidden_size) {
    if (input_size < 1 || hidden_size < 1 || options.num_layers < 1 || options.block_size < 1)
        fail("QLLSTM", "expected positive sizes, got input {}, hidden {}, {} layers, block size {}", input_size,
             hidden_size, options.num_layers, options.block_size);
    for (int64_t k = 0; k < options.num_layers; ++k) {
        layers_.push_back(
            std::make_unique<QLLSTMLayer>(k == 0 ? input_size : hidden_size, hidden_size, gen, options));
        register_module(fmt::format("l{}", k), layers_.back().get());
    }
}

RecurrentOutput QLLSTM::forward(const Tensor& x, const std::vector<int64_t>& lengths,
                                const RecurrentState& initial) const {
    check_sequence("QLLSTM", x, input_size_, lengths);
    const StepMasks masks(lengths, x);
    return run_layers("QLLSTM", x, int64_t(layers_.size()), hidden_size_, true, initial,
                      [&](const Tensor& in, const Tensor& h0, const Tensor& c0, int64_t k) {
                          return layers_[size_t(k)]->forward(in, masks, h0, c0);
                      });
}

int64_t QLLSTM::count_parameters(int64_t input_size, int64_t hidden_size, const QLLSTMOptions& options) {
    const int64_t h = hidden_size;
    int64_t total = 0;
    for (int64_t k = 0; k < options.num_layers; ++k) {
        const int64_t d = k == 0 ? input_size : h;
        total += options.psug ? h * (d + h) + 4 * h + (options.gate_scales ? 4 * h : 0) : 4 * h * (d + h) + 4 * h;
        if (options.hgr_asc)
            total += h * h + h + (options.block_recurrence ? h * h : 0) + (options.gated_skip ? h * h + h : 0);
    }
    return total;
}

}  // namespace tapegrad
