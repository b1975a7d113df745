#include "models/lstm.h"

#include <fmt/format.h>

#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/shape_ops.h"

namespace tapegrad {

LayerRun lstm_layer(const Tensor& x, const StepMasks& masks, Tensor h, Tensor c, const Tensor& weight_ih,
                    const Tensor& weight_hh, const Tensor& bias) {
    const int64_t batch = x.size(0), steps = x.size(1), gates = weight_ih.size(0);
    const Tensor projected = linear(x, weight_ih, bias);  // [B, T, 4H], all steps in one GEMM
    std::vector<Tensor> outputs;
    outputs.reserve(size_t(steps));
    for (int64_t t = 0; t < steps; ++t) {
        Tensor z = reshape(slice(projected, 1, t, t + 1), {batch, gates}) + linear(h, weight_hh, Tensor());
        std::vector<Tensor> zs = chunk(z, 4, 1);
        Tensor i = sigmoid(zs[0]), f = sigmoid(zs[1]), g = tanh(zs[2]), o = sigmoid(zs[3]);
        Tensor c_new = f * c + i * g;
        Tensor h_new = o * tanh(c_new);
        c = masked_update(masks, t, c_new, c);
        h = masked_update(masks, t, h_new, h);
        outputs.push_back(masked_output(masks, t, h_new));
    }
    return {stack(outputs, 1), h, c};
}

LSTMLayer::LSTMLayer(int64_t input_size, int64_t hidden_size, Generator& gen, std::optional<double> forget_bias)
    : weight_ih(recurrent_init({4 * hidden_size, input_size}, hidden_size, gen)),
      weight_hh(recurrent_init({4 * hidden_size, hidden_size}, hidden_size, gen)),
      bias(recurrent_init({4 * hidden_size}, hidden_size, gen)) {
    if (forget_bias) {
        std::vector<float> b = bias.to_vector<float>();
        for (int64_t j = hidden_size; j < 2 * hidden_size; ++j) b[size_t(j)] = float(*forget_bias);
        bias = Tensor::from_vector(b, {4 * hidden_size});
    }
    register_parameter("weight_ih", &weight_ih);
    register_parameter("weight_hh", &weight_hh);
    register_parameter("bias", &bias);
}

LayerRun LSTMLayer::forward(const Tensor& x, const StepMasks& masks, const Tensor& h0, const Tensor& c0) const {
    return lstm_layer(x, masks, h0, c0, weight_ih, weight_hh, bias);
}

LSTM::LSTM(int64_t input_size, int64_t hidden_size, Generator& gen, const LSTMOptions& options)
    : input_size_(input_size), hidden_size_(hidden_size) {
    if (input_size < 1 || hidden_size < 1 || options.num_layers < 1)
        fail("LSTM", "expected positive sizes, got input {}, hidden {}, {} layers", input_size, hidden_size,
             options.num_layers);
    for (int64_t k = 0; k < options.num_layers; ++k) {
        layers_.push_back(std::make_unique<LSTMLayer>(k == 0 ? input_size : hidden_size, hidden_size, gen,
                                                      options.forget_bias));
        register_module(fmt::format("l{}", k), layers_.back().get());
    }
}

RecurrentOutput LSTM::forward(const Tensor& x, const std::vector<int64_t>& lengths,
                              const RecurrentState& initial) const {
    check_sequence("LSTM", x, input_size_, lengths);
    const StepMasks masks(lengths, x);
    return run_layers("LSTM", x, int64_t(layers_.size()), hidden_size_, true, initial,
                      [&](const Tensor& in, const Tensor& h0, const Tensor& c0, int64_t k) {
                          return layers_[size_t(k)]->forward(in, masks, h0, c0);
                      });
}

int64_t LSTM::count_parameters(int64_t input_size, int64_t hidden_size, int64_t num_layers) {
    const int64_t h = hidden_size;
    return 4 * h * (input_size + h) + 4 * h + (num_layers - 1) * (4 * h * (2 * h) + 4 * h);
}

}  // namespace tapegrad
