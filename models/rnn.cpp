#include "models/rnn.h"

#include <fmt/format.h>

#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/shape_ops.h"

namespace tapegrad {

RNNLayer::RNNLayer(int64_t input_size, int64_t hidden_size, Generator& gen)
    : weight_ih(recurrent_init({hidden_size, input_size}, hidden_size, gen)),
      weight_hh(recurrent_init({hidden_size, hidden_size}, hidden_size, gen)),
      bias(recurrent_init({hidden_size}, hidden_size, gen)) {
    register_parameter("weight_ih", &weight_ih);
    register_parameter("weight_hh", &weight_hh);
    register_parameter("bias", &bias);
}

LayerRun RNNLayer::forward(const Tensor& x, const StepMasks& masks, Tensor h) const {
    const int64_t batch = x.size(0), steps = x.size(1), hidden = weight_hh.size(0);
    const Tensor projected = linear(x, weight_ih, bias);  // [B, T, H]
    std::vector<Tensor> outputs;
    outputs.reserve(size_t(steps));
    for (int64_t t = 0; t < steps; ++t) {
        Tensor h_new = tanh(reshape(slice(projected, 1, t, t + 1), {batch, hidden}) + linear(h, weight_hh, Tensor()));
        h = masked_update(masks, t, h_new, h);
        outputs.push_back(masked_output(masks, t, h_new));
    }
    return {stack(outputs, 1), h, Tensor()};
}

RNN::RNN(int64_t input_size, int64_t hidden_size, Generator& gen, int64_t num_layers)
    : input_size_(input_size), hidden_size_(hidden_size) {
    if (input_size < 1 || hidden_size < 1 || num_layers < 1)
        fail("RNN", "expected positive sizes, got input {}, hidden {}, {} layers", input_size, hidden_size, num_layers);
    for (int64_t k = 0; k < num_layers; ++k) {
        layers_.push_back(std::make_unique<RNNLayer>(k == 0 ? input_size : hidden_size, hidden_size, gen));
        register_module(fmt::format("l{}", k), layers_.back().get());
    }
}

RecurrentOutput RNN::forward(const Tensor& x, const std::vector<int64_t>& lengths,
                             const RecurrentState& initial) const {
    check_sequence("RNN", x, input_size_, lengths);
    const StepMasks masks(lengths, x);
    return run_layers("RNN", x, int64_t(layers_.size()), hidden_size_, false, initial,
                      [&](const Tensor& in, const Tensor& h0, const Tensor&, int64_t k) {
                          return layers_[size_t(k)]->forward(in, masks, h0);
                      });
}

int64_t RNN::count_parameters(int64_t input_size, int64_t hidden_size, int64_t num_layers) {
    const int64_t h = hidden_size;
    return h * (input_size + h) + h + (num_layers - 1) * (h * 2 * h + h);
}

}  // namespace tapegrad
