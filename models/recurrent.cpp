#include "recurrent.h"

#include "../autograd/tape.h"

namespace tapegrad {

Recurrent::Recurrent(CellType type, int64_t input_size, int64_t hidden_size, int64_t num_layers, Generator& gen,
                     double forget_bias) {
    if (num_layers < 1) fail("Recurrent", "num_layers must be at least 1, got {}", num_layers);
    for (int64_t l = 0; l < num_layers; ++l) {
        int64_t in = l == 0 ? input_size : hidden_size;
        if (type == CellType::RNN) layers.push_back(std::make_unique<RnnCell>(in, hidden_size, gen));
        else if (type == CellType::LSTM) layers.push_back(std::make_unique<LstmCell>(in, hidden_size, gen, forget_bias));
        else layers.push_back(std::make_unique<GruCell>(in, hidden_size, gen));
        register_module("layers." + std::to_string(l), layers.back().get());
    }
}

RecurrentOutput Recurrent::forward(const Tensor& x, const std::vector<int64_t>& lengths,
                                   const std::vector<RecurrentState>& initial) const {
    std::vector<int64_t> resolved = resolve_lengths("recurrent", x, lengths);
    if (!initial.empty() && initial.size() != layers.size())
        fail("recurrent", "got {} initial states for {} layers", initial.size(), layers.size());
    RecurrentOutput result;
    Tensor input = x;
    for (size_t l = 0; l < layers.size(); ++l) {
        NameScope scope("layer" + std::to_string(l));
        RecurrentOutput out =
            run_recurrent(*layers[l], input, resolved, initial.empty() ? RecurrentState{} : initial[l], schedule);
        input = out.output;
        result.last.push_back(out.last[0]);
    }
    result.output = input;
    return result;
}

}  // namespace tapegrad
