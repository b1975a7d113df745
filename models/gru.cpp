#include "models/gru.h"

#include <fmt/format.h>

#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/shape_ops.h"

namespace tapegrad {

GRULayer::GRULayer(int64_t input_size, int64_t hidden_size, Generator& gen)
    : weight_ih(recurrent_init({3 * hidden_size, input_size}, hidden_size, gen)),
      weight_hh(recurrent_init({3 * hidden_size, hidden_size}, hidden_size, gen)),
      bias_ih(recurrent_init({3 * hidden_size}, hidden_size, gen)),
      bias_hh(recurrent_init({3 * hidden_size}, hidden_size, gen)) {
    register_parameter("weight_ih", &weight_ih);
    register_parameter("weight_hh", &weight_hh);
    register_parameter("bias_ih", &bias_ih);
    register_parameter("bias_hh", &bias_hh);
}

LayerRun GRULayer::forward(const Tensor& x, const StepMasks& masks, Tensor h) const {
    const int64_t batch = x.size(0), steps = x.size(1), hidden = weight_hh.size(1);
    const Tensor projected = linear(x, weight_ih, bias_ih);  // [B, T, 3H]
    std::vector<Tensor> outputs;
    outputs.reserve(size_t(steps));
    for (int64_t t = 0; t < steps; ++t) {
        std::vector<Tensor> a = split(reshape(slice(projected, 1, t, t + 1), {batch, 3 * hidden}),
                                      {2 * hidden, hidden}, 1);
        std::vector<Tensor> u = split(linear(h, weight_hh, bias_hh), {2 * hidden, hidden}, 1);
        std::vector<Tensor> rz = chunk(sigmoid(a[0] + u[0]), 2, 1);
        Tensor n = tanh(a[1] + rz[0] * u[1]);
        Tensor h_new = n + rz[1] * (h - n);
        h = masked_update(masks, t, h_new, h);
        outputs.push_back(masked_output(masks, t, h_new));
    }
    return {stack(outputs, 1), h, Tensor()};
}

GRU::GRU(int64_t input_size, int64_t hidden_size, Generator& gen, int64_t num_layers)
    : input_size_(input_size), hidden_size_(hidden_size) {
    if (input_size < 1 || hidden_size < 1 || num_layers < 1)
        fail("GRU", "expected positive sizes, got input {}, hidden {}, {} layers", input_size, hidden_size, num_layers);
    for (int64_t k = 0; k < num_layers; ++k) {
        layers_.push_back(std::make_unique<GRULayer>(k == 0 ? input_size : hidden_size, hidden_size, gen));
        register_module(fmt::format("l{}", k), layers_.back().get());
    }
}

RecurrentOutput GRU::forward(const Tensor& x, const std::vector<int64_t>& lengths,
                             const RecurrentState& initial) const {
    check_sequence("GRU", x, input_size_, lengths);
    const StepMasks masks(lengths, x);
    return run_layers("GRU", x, int64_t(layers_.size()), hidden_size_, false, initial,
                      [&](const Tensor& in, const Tensor& h0, const Tensor&, int64_t k) {
                          return layers_[size_t(k)]->forward(in, masks, h0);
                      });
}

int64_t GRU::count_parameters(int64_t input_size, int64_t hidden_size, int64_t num_layers) {
    const int64_t h = hidden_size;
    return 3 * h * (input_size + h) + 6 * h + (num_layers - 1) * (3 * h * 2 * h + 6 * h);
}

}  // namespace tapegrad
