#include "models/bilstm.h"

#include <fmt/format.h>

#include "ops/shape_ops.h"

namespace tapegrad {

Tensor reverse_within_lengths(const Tensor& x, const std::vector<int64_t>& lengths) {
    const int64_t batch = x.size(0), steps = x.size(1), width = x.size(2);
    std::vector<int64_t> rows(size_t(batch * steps));
    for (int64_t b = 0; b < batch; ++b) {
        const int64_t len = lengths.empty() ? steps : lengths[size_t(b)];
        for (int64_t t = 0; t < steps; ++t) rows[size_t(b * steps + t)] = b * steps + (t < len ? len - 1 - t : t);
    }
    const Tensor index = Tensor::from_vector(rows, {batch * steps}, x.device());
    return reshape(index_select(reshape(x, {batch * steps, width}), 0, index), {batch, steps, width});
}

BiLSTM::BiLSTM(int64_t input_size, int64_t hidden_size, Generator& gen, const LSTMOptions& options)
    : input_size_(input_size), hidden_size_(hidden_size) {
    if (input_size < 1 || hidden_size < 1 || options.num_layers < 1)
        fail("BiLSTM", "expected positive sizes, got input {}, hidden {}, {} layers", input_size, hidden_size,
             options.num_layers);
    for (int64_t k = 0; k < options.num_layers; ++k) {
        const int64_t in = k == 0 ? input_size : 2 * hidden_size;
        forward_.push_back(std::make_unique<LSTMLayer>(in, hidden_size, gen, options.forget_bias));
        backward_.push_back(std::make_unique<LSTMLayer>(in, hidden_size, gen, options.forget_bias));
        register_module(fmt::format("l{}", k), forward_.back().get());
        register_module(fmt::format("l{}_reverse", k), backward_.back().get());
    }
}

RecurrentOutput BiLSTM::forward(const Tensor& x, const std::vector<int64_t>& lengths,
                                const RecurrentState& initial) const {
    check_sequence("BiLSTM", x, input_size_, lengths);
    const StepMasks masks(lengths, x);
    const int64_t entries = 2 * int64_t(forward_.size());
    std::vector<Tensor> hs, cs;
    Tensor input = x;
    for (size_t k = 0; k < forward_.size(); ++k) {
        const int64_t fwd = 2 * int64_t(k), bwd = fwd + 1;
        LayerRun f = forward_[k]->forward(input, masks,
                                          state_entry("BiLSTM", initial.h, fwd, entries, x, hidden_size_),
                                          state_entry("BiLSTM", initial.c, fwd, entries, x, hidden_size_));
        LayerRun b = backward_[k]->forward(reverse_within_lengths(input, lengths), masks,
                                           state_entry("BiLSTM", initial.h, bwd, entries, x, hidden_size_),
                                           state_entry("BiLSTM", initial.c, bwd, entries, x, hidden_size_));
        input = concat({f.output, reverse_within_lengths(b.output, lengths)}, 2);
        hs.insert(hs.end(), {f.h, b.h});
        cs.insert(cs.end(), {f.c, b.c});
    }
    return {input, {stack(hs, 0), stack(cs, 0)}};
}

int64_t BiLSTM::count_parameters(int64_t input_size, int64_t hidden_size, int64_t num_layers) {
    const int64_t h = hidden_size;
    return 2 * (LSTM::count_parameters(input_size, h) + (num_layers - 1) * LSTM::count_parameters(2 * h, h));
}

}  // namespace tapegrad
