#include "bilstm.h"

#include "../autograd/tape.h"
#include "../ops/shape_ops.h"

namespace tapegrad {

Tensor reverse_within_lengths(const Tensor& x, const std::vector<int64_t>& lengths) {
    int64_t batch = x.shape()[0], steps = x.shape()[1];
    Shape rows_shape = {batch * steps};
    for (int k = 2; k < x.dim(); ++k) rows_shape.push_back(x.shape()[k]);
    std::vector<int64_t> index(batch * steps);
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = 0; t < steps; ++t) index[b * steps + t] = b * steps + (t < lengths[b] ? lengths[b] - 1 - t : t);
    Tensor rows = index_select(reshape(x, rows_shape), 0, to(Tensor::from_vector(index, {batch * steps}), x.device()));
    return reshape(rows, x.shape());
}

BiLstm::BiLstm(int64_t input_size, int64_t hidden_size, int64_t num_layers, Generator& gen, double forget_bias) {
    if (num_layers < 1) fail("BiLstm", "num_layers must be at least 1, got {}", num_layers);
    for (auto* cells : {&forward_cells, &backward_cells}) {
        const std::string direction = cells == &forward_cells ? "forward" : "backward";
        for (int64_t l = 0; l < num_layers; ++l) {
            int64_t in = l == 0 ? input_size : 2 * hidden_size;
            cells->push_back(std::make_unique<LstmCell>(in, hidden_size, gen, forget_bias));
            register_module(direction + ".layers." + std::to_string(l), cells->back().get());
        }
    }
}

RecurrentOutput BiLstm::forward(const Tensor& x, const std::vector<int64_t>& lengths) const {
    std::vector<int64_t> resolved = resolve_lengths("bilstm", x, lengths);
    RecurrentOutput result;
    Tensor input = x;
    for (size_t l = 0; l < forward_cells.size(); ++l) {
        NameScope scope("layer" + std::to_string(l));
        RecurrentOutput fwd, bwd;
        {
            NameScope direction("forward");
            fwd = run_recurrent(*forward_cells[l], input, resolved, {}, schedule);
        }
        {
            NameScope direction("backward");
            bwd = run_recurrent(*backward_cells[l], reverse_within_lengths(input, resolved), resolved, {}, schedule);
        }
        input = concat({fwd.output, reverse_within_lengths(bwd.output, resolved)}, 2);
        result.last.push_back(fwd.last[0]);
        result.last.push_back(bwd.last[0]);
    }
    result.output = input;
    return result;
}

}  // namespace tapegrad
