#include "pr_lstm.h"

#include <cmath>
#include <map>

#include "../autograd/tape.h"
#include "init.h"
#include "lstm.h"
#include "../ops/elementwise.h"
#include "../ops/linalg.h"
#include "../ops/shape_ops.h"

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
    : hidden_size(checked_size("PrLstm", "hidden_size", hidden)),
      cell(cell_type),
      leaf(checked_size("PrLstm", "input_size", input_size), cell_type == PrCell::LSTM ? 3 * hidden : hidden, gen),
      merge_block(2 * hidden, cell_type == PrCell::LSTM ? 5 * hidden : hidden, gen),
      readout(hidden, checked_size("PrLstm", "output_size", output_size), gen) {
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

// Tape labels: the leaves are tree level 0 ("level=0/input_gate"); each merge labels its gates,
// and "c" and "h" mark the new states (autograd/grad_flow.h finds them). A level's nodes are one
// batched op, so labels name the level, not the node.
PrStates PrLstm::leaves(const Tensor& x) const {
    NameScope scope("level=0");
    if (cell == PrCell::RNN) return {in_scope("h", [&] { return leaf.forward(x); }), Tensor()};
    std::vector<Tensor> gates = in_scope("gates", [&] { return chunk(leaf.forward(x), 3, -1); });  // i, g, o
    Tensor input_gate = in_scope("input_gate", [&] { return sigmoid(gates[0]); });
    Tensor candidate = in_scope("candidate", [&] { return tanh(gates[1]); });
    Tensor output_gate = in_scope("output_gate", [&] { return sigmoid(gates[2]); });
    RecurrentState s = lstm_state(input_gate, candidate, output_gate, {});  // c = i ⊙ g: no previous state
    return {s.h, s.c};
}

PrStates PrLstm::merge(const PrStates& left, const PrStates& right) const {
    return merge_pairs(concat({left.h, right.h}, -1), left.c, right.c);
}

PrStates PrLstm::merge_pairs(const Tensor& h_pairs, const Tensor& c_left, const Tensor& c_right) const {
    ++merge_calls_;
    PrStates s;
    if (cell == PrCell::RNN) {
        s.h = in_scope("h", [&] { return relu(merge_block.forward(h_pairs)); });
    } else {
        std::vector<Tensor> g = in_scope("gates", [&] { return chunk(merge_block.forward(h_pairs), 5, -1); });
        Tensor input_gate = in_scope("input_gate", [&] { return sigmoid(g[0]); });
        Tensor candidate = in_scope("candidate", [&] { return tanh(g[1]); });
        Tensor output_gate = in_scope("output_gate", [&] { return sigmoid(g[2]); });
        Tensor left_forget = in_scope("left_forget_gate", [&] { return sigmoid(g[3]); });
        Tensor right_forget = in_scope("right_forget_gate", [&] { return sigmoid(g[4]); });
        RecurrentState next = lstm_state(input_gate, candidate, output_gate, {{left_forget, c_left}, {right_forget, c_right}});
        s = {next.h, next.c};
    }
    for (size_t r = 0; r < refine.size(); ++r) {
        NameScope scope("refine" + std::to_string(r));
        if (cell == PrCell::RNN) {
            s.h = in_scope("h", [&] { return relu(refine[r]->forward(s.h)); });
        } else {
            std::vector<Tensor> g = in_scope("gates", [&] { return chunk(refine[r]->forward(s.h), 4, -1); });
            Tensor input_gate = in_scope("input_gate", [&] { return sigmoid(g[0]); });
            Tensor candidate = in_scope("candidate", [&] { return tanh(g[1]); });
            Tensor output_gate = in_scope("output_gate", [&] { return sigmoid(g[2]); });
            Tensor forget_gate = in_scope("forget_gate", [&] { return sigmoid(g[3]); });
            RecurrentState next = lstm_state(input_gate, candidate, output_gate, {{forget_gate, s.c}});
            s = {next.h, next.c};
        }
    }
    return s;
}

PrStates PrLstm::prefix_states(const Tensor& x) const {
    if (x.dim() != 3 || x.shape()[2] != leaf.weight.shape()[1])
        fail("pr_lstm", "expected inputs [B, n, {}], got {}", leaf.weight.shape()[1], x.describe());
    if (x.shape()[1] < 1) fail("pr_lstm", "input {} has n = 0 positions (expected n >= 1: there is no prefix of nothing)", x.describe());
    merge_calls_ = 0;
    return schedule == Schedule::Fast ? batched_prefixes(x) : reference_prefixes(x);
}

// Reference: the equations as written. D_k[j] is the aligned block of 2^k leaves that starts at
// leaf j 2^k, reduced as a perfect balanced tree; P[t] folds the blocks of t+1's binary digits,
// the largest first:
//   D_0 = leaves(x)                               [B, n, H]: every token's leaf
//   D_k[j] = M(D_{k-1}[2j], D_{k-1}[2j+1])        all blocks of level k side by side, [B, n / 2^k, H]
//   P[t] = M(...M(M(D_a1[.], D_a2[.]), D_a3[.])..., D_ak[.]),   t+1 = 2^a1 + ... + 2^ak, a1 > ... > ak
// Labels: the levels as in the fast schedule ("level=2/h"), each prefix's merges under "prefix=t".
PrStates PrLstm::reference_prefixes(const Tensor& x) const {
    const int64_t n = x.shape()[1];
    std::vector<PrStates> level = {leaves(x)};  // level[k]: D_k
    for (int64_t k = 1; (int64_t(1) << k) <= n; ++k) {
        NameScope scope("level=" + std::to_string(k));
        std::vector<int64_t> left, right;  // blocks 2j and 2j+1 of the level below
        for (int64_t j = 0; j < n >> k; ++j) {
            left.push_back(2 * j);
            right.push_back(2 * j + 1);
        }
        level.push_back(merge(select(level.back(), index_tensor(left, x)), select(level.back(), index_tensor(right, x))));
    }
    std::vector<PrStates> prefixes;
    for (int64_t t = 0; t < n; ++t) {
        NameScope scope("prefix=" + std::to_string(t));
        PrStates prefix;
        int64_t start = 0;  // the first leaf of the next block
        for (int64_t a = int64_t(level.size()) - 1; a >= 0; --a) {
            const int64_t size = int64_t(1) << a;
            if (!((t + 1) & size)) continue;
            PrStates block = select(level[a], index_tensor({start / size}, x));  // D_a[start / 2^a]
            prefix = prefix.h.defined() ? merge(prefix, block) : block;
            start += size;
        }
        prefixes.push_back(prefix);
    }
    return join(prefixes);
}

// Fast: the two-phase schedule of docs/PR-LSTM.md, batched per level over the whole batch:
//  1. blocks: level k holds the aligned blocks of size 2^k, D_k[j] = M(D_{k-1}[2j], D_{k-1}[2j+1]);
//  2. prefixes: P[t] = D_a[0] when t+1 = 2^a, else P[t] = M(P[t - 2^b], D_b[(t+1)/2^b - 1]) with 2^b
//     the lowest set bit of t+1. Grouping t by that bit, from the highest to the lowest, each
//     group needs only earlier groups: one batched merge per group.
PrStates PrLstm::batched_prefixes(const Tensor& x) const {
    const int64_t n = x.shape()[1];
    std::vector<PrStates> level = {leaves(x)};  // level[k]: D_k, [B, floor(n / 2^k), H]
    for (int64_t k = 1; (int64_t(1) << k) <= n; ++k) {
        NameScope scope("level=" + std::to_string(k));
        const PrStates& below = level.back();  // [B, m_below, H]
        int64_t m_below = below.h.shape()[1], pairs = m_below / 2, batch = below.h.shape()[0];
        // Blocks 2j and 2j+1 are neighbours, so [B, 2 pairs, H] viewed as [B, pairs, 2H] holds
        // the merge input [h_2j; h_2j+1] in row j without a gather (an odd last block is dropped).
        PrStates paired = m_below % 2 ? PrStates{slice(below.h, 1, 0, 2 * pairs),
                                                 below.c.defined() ? slice(below.c, 1, 0, 2 * pairs) : Tensor()}
                                      : below;
        Tensor h_pairs = reshape(paired.h, {batch, pairs, 2 * hidden_size});
        std::vector<Tensor> c_halves = {Tensor(), Tensor()};
        if (paired.c.defined()) c_halves = chunk(reshape(paired.c, {batch, pairs, 2 * hidden_size}), 2, -1);
        level.push_back(merge_pairs(h_pairs, c_halves[0], c_halves[1]));
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
