#include "models/recurrent.h"

#include <algorithm>
#include <cmath>

#include "ops/elementwise.h"
#include "ops/shape_ops.h"

namespace tapegrad {

RecurrentState RecurrentState::detach() const {
    return {h.defined() ? h.detach() : Tensor(), c.defined() ? c.detach() : Tensor()};
}

StepMasks::StepMasks(const std::vector<int64_t>& lengths, const Tensor& x) {
    const int64_t batch = x.size(0), steps = x.size(1);
    lengths_ = lengths.empty() ? std::vector<int64_t>(size_t(batch), steps) : lengths;
    min_length_ = *std::min_element(lengths_.begin(), lengths_.end());
    masks_.resize(size_t(steps));
    for (int64_t t = min_length_; t < steps; ++t) {
        std::vector<double> m(static_cast<size_t>(batch));
        for (int64_t b = 0; b < batch; ++b) m[size_t(b)] = t < lengths_[size_t(b)] ? 1.0 : 0.0;
        masks_[size_t(t)] = to(Tensor::from_vector(m, {batch, 1}, x.device()), x.dtype());
    }
}

Tensor masked_update(const StepMasks& masks, int64_t t, const Tensor& updated, const Tensor& old) {
    if (masks.all_real(t)) return updated;
    return old + masks.at(t) * (updated - old);
}

Tensor masked_output(const StepMasks& masks, int64_t t, const Tensor& h) {
    return masks.all_real(t) ? h : masks.at(t) * h;
}

void check_sequence(const char* op, const Tensor& x, int64_t input_size, const std::vector<int64_t>& lengths) {
    if (x.dim() != 3 || x.size(2) != input_size || x.size(1) < 1 || x.size(0) < 1)
        fail(op, "expected input [B, T, {}] with B, T >= 1, got {}", input_size, x.describe());
    if (x.dtype() != DType::Float32 && x.dtype() != DType::Float64)
        fail(op, "expected a float32 or float64 input, got {}", x.describe());
    if (lengths.empty()) return;
    if (int64_t(lengths.size()) != x.size(0))
        fail(op, "got {} lengths for a batch of {} ({})", lengths.size(), x.size(0), x.describe());
    for (size_t b = 0; b < lengths.size(); ++b)
        if (lengths[b] < 0 || lengths[b] > x.size(1))
            fail(op, "lengths[{}] = {} is outside [0, T = {}] for input {}", b, lengths[b], x.size(1), x.describe());
}

Tensor state_entry(const char* op, const Tensor& state, int64_t index, int64_t count, const Tensor& x,
                   int64_t hidden) {
    const int64_t batch = x.size(0);
    if (!state.defined()) return Tensor::zeros({batch, hidden}, x.dtype(), x.device());
    if (state.shape() != Shape{count, batch, hidden} || state.dtype() != x.dtype())
        fail(op, "expected an initial state [{}, {}, {}] {}, got {}", count, batch, hidden, to_string(x.dtype()),
             state.describe());
    return reshape(slice(state, 0, index, index + 1), {batch, hidden});
}

Tensor recurrent_init(const Shape& shape, int64_t hidden, Generator& gen) {
    const double bound = 1.0 / std::sqrt(double(hidden));
    return Tensor::uniform(shape, -bound, bound, gen);
}

RecurrentOutput run_layers(const char* op, const Tensor& x, int64_t num_layers, int64_t hidden, bool has_cell,
                           const RecurrentState& initial, const LayerFn& layer) {
    std::vector<Tensor> hs, cs;
    Tensor input = x;
    for (int64_t k = 0; k < num_layers; ++k) {
        Tensor h0 = state_entry(op, initial.h, k, num_layers, x, hidden);
        Tensor c0 = has_cell ? state_entry(op, initial.c, k, num_layers, x, hidden) : Tensor();
        LayerRun run = layer(input, h0, c0, k);
        hs.push_back(run.h);
        if (has_cell) cs.push_back(run.c);
        input = run.output;
    }
    return {input, {stack(hs, 0), has_cell ? stack(cs, 0) : Tensor()}};
}

}  // namespace tapegrad
