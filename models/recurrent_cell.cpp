#include "recurrent_cell.h"

#include <cmath>
#include <optional>

#include "../autograd/tape.h"
#include "init.h"
#include "../ops/elementwise.h"
#include "../ops/shape_ops.h"

namespace tapegrad {

std::vector<int64_t> resolve_lengths(const char* op, const Tensor& x, const std::vector<int64_t>& lengths) {
    if (x.dim() != 3) fail(op, "expected a batch-first input [B, T, D], got {}", x.describe());
    return resolve_lengths(op, x.shape()[0], x.shape()[1], lengths);
}

Tensor column_mask(const std::vector<double>& values, const Tensor& like) {
    return Tensor::from_values(values, {int64_t(values.size()), 1}, like.dtype(), like.device());
}

Tensor step_mask(const std::vector<int64_t>& lengths, int64_t t, const Tensor& like) {
    std::vector<double> m(lengths.size());
    for (size_t b = 0; b < m.size(); ++b) m[b] = t < lengths[b] ? 1.0 : 0.0;
    return column_mask(m, like);
}

Tensor recurrent_init(const Shape& shape, int64_t hidden_size, Generator& gen) {
    return uniform_init(shape, 1.0 / std::sqrt(double(hidden_size)), gen);
}

RecurrentState detach(const RecurrentState& s) { return {s.h.detach(), s.c.defined() ? s.c.detach() : Tensor()}; }

Tensor time_step(const Tensor& x, int64_t t) { return select(x, 0, t); }

RecurrentOutput run_recurrent(const RecurrentCell& cell, const Tensor& x, const std::vector<int64_t>& lengths_in,
                              const RecurrentState& initial, Schedule schedule) {
    int64_t batch = x.shape()[0], steps = x.shape()[1], hidden = cell.hidden_size;
    if (x.shape()[2] != cell.input_size)
        fail("recurrent", "input is {} but the cell expects {} features", x.describe(), cell.input_size);
    const std::vector<int64_t> lengths = lengths_in.empty() ? std::vector<int64_t>(batch, steps) : lengths_in;
    bool padded = false;
    for (int64_t len : lengths) padded |= len < steps;

    RecurrentState state = initial;
    if (!state.h.defined()) state.h = Tensor::zeros({batch, hidden}, x.dtype(), x.device());
    if (cell.has_cell_state() && !state.c.defined()) state.c = Tensor::zeros({batch, hidden}, x.dtype(), x.device());

    // Fast: x [B, T, D] -> [T, B, D] before the projection (D <= G: the cheaper tensor to transpose).
    std::optional<Hoisted> hoisted;
    if (schedule == Schedule::Fast) hoisted.emplace(cell.hoist(transpose(x, 0, 1)));
    std::vector<Tensor> outputs;
    for (int64_t t = 0; t < steps; ++t) {
        NameScope scope("t=" + std::to_string(t));
        const StepContext at{t, lengths, padded ? step_mask(lengths, t, x) : Tensor()};
        RecurrentState next = hoisted ? cell.fast_step(*hoisted, state, at) : cell.step(select(x, 1, t), state, at);
        if (padded) {
            // Past its end a sequence keeps its state (h += m (h_new - h)) and outputs zero.
            next.h = in_scope("h", [&] { return addcmul(state.h, at.mask, next.h - state.h); });
            if (next.c.defined()) next.c = in_scope("c", [&] { return addcmul(state.c, at.mask, next.c - state.c); });
            outputs.push_back(next.h * at.mask);
        } else {
            outputs.push_back(next.h);
        }
        state = std::move(next);
    }
    return {stack(outputs, 1), {state}};
}

}  // namespace tapegrad
