#include "models/pr_lstm.h"

#include <cmath>
#include <map>

#include "autograd/tape.h"
#include "models/init.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/shape_ops.h"

namespace tapegrad {

namespace {
// haiku's hk.Linear default: weights TruncatedNormal(1/sqrt(fan_in)), biases zero.
void haiku_init(Linear& layer, Generator& gen) {
    int64_t fan_in = layer.weight.shape()[1];
    layer.weight = truncated_normal_init(layer.weight.shape(), 1.0 / std::sqrt(double(fan_in)), gen).set_requires_grad();
    layer.bias = Tensor::zeros(layer.bias.shape()).set_requires_grad();
}

// Positions `index` (along axis 1) of every tensor of a batch of states.
PrStates select(const PrStates& s, const Tensor& index) {
    return {index_select(s.h, 1, index), s.c.defined() ? index_select(s.c, 1, index) : Tensor()};
}

PrStates join(const std::vector<PrStates>& parts) {
    if (parts.size() == 1) return parts[0];
    std::vector<Tensor> hs, cs;
    for (const PrStates& p : parts) {
        hs.push_back(p.h);
        if (p.c.defined()) cs.push_back(p.c);
    }
    return {concat(hs, 1), cs.empty() ? Tensor() : concat(cs, 1)};
}

Tensor index_tensor(const std::vector<int64_t>& values, const Tensor& like) {
    return to(Tensor::from_vector(values, {int64_t(values.size())}), like.device());
}

int64_t lowest_bit(int64_t v) { return v & -v; }
}  // namespace

PrLstm::PrLstm(int64_t input_size, int64_t hidden, int64_t output_size, Generator& gen, int64_t refinements,
               PrCell cell_type)
    : hidden_size(hidden),
      cell(cell_type),
      leaf(input_size, cell_type == PrCell::LSTM ? 3 * hidden : hidden, gen),
      merge_block(2 * hidden, cell_type == PrCell::LSTM ? 5 * hidden : hidden, gen),
      readout(hidden, output_size, gen) {
    if (refinements < 0) fail("PrLstm", "the number of refinements R must be >= 0, got {}", refinements);
    haiku_init(leaf, gen);
    haiku_init(merge_block, gen);
    register_module("leaf", &leaf);
    register_module("merge", &merge_block);
    for (int64_t r = 0; r < refinements; ++r) {
        refine.push_back(std::make_unique<Linear>(hidden, cell_type == PrCell::LSTM ? 4 * hidden : hidden, gen));
        haiku_init(*refine.back(), gen);
        register_module("refine." + std::to_string(r), refine.back().get());
    }
    haiku_init(readout, gen);
    register_module("readout", &readout);
}

PrStates PrLstm::leaves(const Tensor& x) const {
    NameScope scope("leaf");
    Tensor z = leaf.forward(x);
    if (cell == PrCell::RNN) return {z, Tensor()};
    std::vector<Tensor> gates = chunk(z, 3, -1);  // i, g, o
    Tensor c = sigmoid(gates[0]) * tanh(gates[1]);
    return {sigmoid(gates[2]) * tanh(c), c};
}

PrStates PrLstm::merge(const PrStates& left, const PrStates& right) const {
    ++merge_calls_;
    PrStates s;
    Tensor z = merge_block.forward(concat({left.h, right.h}, -1));
    if (cell == PrCell::RNN) {
        s.h = relu(z);
    } else {
        std::vector<Tensor> g = chunk(z, 5, -1);  // i, g, o, f_L, f_R
        s.c = sigmoid(g[0]) * tanh(g[1]) + sigmoid(g[3]) * left.c + sigmoid(g[4]) * right.c;
        s.h = sigmoid(g[2]) * tanh(s.c);
    }
    for (size_t r = 0; r < refine.size(); ++r) {
        NameScope scope("refine" + std::to_string(r));
        Tensor u = refine[r]->forward(s.h);
        if (cell == PrCell::RNN) {
            s.h = relu(u);
        } else {
            std::vector<Tensor> g = chunk(u, 4, -1);  // i, g, o, f
            s.c = sigmoid(g[0]) * tanh(g[1]) + sigmoid(g[3]) * s.c;
            s.h = sigmoid(g[2]) * tanh(s.c);
        }
    }
    return s;
}

// The two-phase schedule of pr-lstm-notes.md §6, batched per level over the whole batch:
//  1. blocks: level k holds the aligned blocks of size 2^k, D_k[j] = M(D_{k-1}[2j], D_{k-1}[2j+1]);
//  2. prefixes: P[t] = D_a[0] when t+1 = 2^a, else P[t] = M(P[t - 2^b], D_b[(t+1)/2^b - 1]) with 2^b
//     the lowest set bit of t+1. Grouping t by that bit, from the highest to the lowest, each
//     group needs only earlier groups: one batched merge per group.
PrStates PrLstm::prefix_states(const Tensor& x) const {
    if (x.dim() != 3 || x.shape()[2] != leaf.weight.shape()[1])
        fail("pr_lstm", "expected inputs [B, n, {}], got {}", leaf.weight.shape()[1], x.describe());
    merge_calls_ = 0;
    const int64_t n = x.shape()[1];
    std::vector<PrStates> level = {leaves(x)};  // level[k]: D_k, [B, floor(n / 2^k), H]
    for (int64_t k = 1; (int64_t(1) << k) <= n; ++k) {
        NameScope scope("level=" + std::to_string(k));
        const PrStates& below = level.back();
        int64_t pairs = below.h.shape()[1] / 2;
        std::vector<int64_t> even(pairs), odd(pairs);
        for (int64_t j = 0; j < pairs; ++j) even[j] = 2 * j, odd[j] = 2 * j + 1;
        level.push_back(merge(select(below, index_tensor(even, x)), select(below, index_tensor(odd, x))));
    }

    // Where each prefix lives: (piece, position); pieces are D_a (for t+1 = 2^a) and group outputs.
    std::vector<PrStates> pieces;
    std::vector<std::pair<int64_t, int64_t>> where(n, {-1, -1});
    for (int64_t a = 0; (int64_t(1) << a) <= n; ++a) {
        pieces.push_back(level[a]);
        where[(int64_t(1) << a) - 1] = {int64_t(pieces.size()) - 1, 0};
    }
    for (int64_t a = int64_t(level.size()) - 1; a >= 0; --a) {
        int64_t size = int64_t(1) << a;
        // The prefixes of this group, ordered by the piece their left operand lives in.
        std::map<int64_t, std::vector<int64_t>> by_source;
        for (int64_t t = 0; t < n; ++t)
            if (lowest_bit(t + 1) == size && (t + 1) != size) by_source[where[t - size].first].push_back(t);
        if (by_source.empty()) continue;
        NameScope scope("prefix_group=" + std::to_string(a));
        std::vector<PrStates> lefts;
        std::vector<int64_t> order, right_positions;
        for (auto& [source, ts] : by_source) {
            std::vector<int64_t> positions;
            for (int64_t t : ts) {
                positions.push_back(where[t - size].second);
                right_positions.push_back((t + 1) / size - 1);
                order.push_back(t);
            }
            lefts.push_back(select(pieces[source], index_tensor(positions, x)));
        }
        pieces.push_back(merge(join(lefts), select(level[a], index_tensor(right_positions, x))));
        for (size_t i = 0; i < order.size(); ++i) where[order[i]] = {int64_t(pieces.size()) - 1, int64_t(i)};
    }

    // Assemble P[0..n-1] in order: concatenate the pieces, then pick each prefix's position.
    std::vector<int64_t> offset(pieces.size(), 0), gather(n);
    for (size_t p = 1; p < pieces.size(); ++p) offset[p] = offset[p - 1] + pieces[p - 1].h.shape()[1];
    for (int64_t t = 0; t < n; ++t) gather[t] = offset[where[t].first] + where[t].second;
    return select(join(pieces), index_tensor(gather, x));
}

Tensor PrLstm::forward(const Tensor& x) const {
    PrStates p = prefix_states(x);
    NameScope scope("readout");
    return readout.forward(relu(p.h));
}

}  // namespace tapegrad
