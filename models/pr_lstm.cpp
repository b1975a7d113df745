#include "models/pr_lstm.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/shape_ops.h"

namespace tapegrad {

Tensor truncated_normal_init(const Shape& shape, int64_t fan_in, Generator& gen) {
    double stddev = 1.0 / std::sqrt(double(fan_in));
    std::vector<float> values(numel(shape));
    for (float& v : values) {
        double z = philox_normal(gen.seed(), gen.take(1));
        while (std::fabs(z) > 2.0) z = philox_normal(gen.seed(), gen.take(1));
        v = float(z * stddev);
    }
    return Tensor::from_vector(values, shape);
}

int64_t pr_lstm_parameter_count(const PrLstmOptions& o) {
    int64_t H = o.hidden_size;
    bool lstm = o.cell == PrCell::Lstm;
    int64_t leaf = (lstm ? 3 : 1) * H * (o.input_size + 1);
    int64_t merge = (lstm ? 5 : 1) * H * (2 * H + 1);
    int64_t refine = (lstm ? 4 : 1) * H * (H + 1);
    int64_t readout = o.output_size * (H + 1);
    return leaf + merge + o.refinements * refine + readout;
}

PrLstm::PrLstm(const PrLstmOptions& options, Generator& gen) : options_(options) {
    const PrLstmOptions& o = options;
    if (o.input_size < 1 || o.hidden_size < 1 || o.output_size < 1 || o.refinements < 0)
        fail("PrLstm", "input_size {}, hidden_size {}, output_size {} must be >= 1 and refinements {} >= 0",
             o.input_size, o.hidden_size, o.output_size, o.refinements);
    int64_t H = o.hidden_size;
    bool lstm = o.cell == PrCell::Lstm;
    leaf_weight = truncated_normal_init({(lstm ? 3 : 1) * H, o.input_size}, o.input_size, gen);
    leaf_bias = Tensor::zeros({(lstm ? 3 : 1) * H});
    merge_weight = truncated_normal_init({(lstm ? 5 : 1) * H, 2 * H}, 2 * H, gen);
    merge_bias = Tensor::zeros({(lstm ? 5 : 1) * H});
    for (int r = 0; r < o.refinements; ++r) {
        refine_weights.push_back(truncated_normal_init({(lstm ? 4 : 1) * H, H}, H, gen));
        refine_biases.push_back(Tensor::zeros({(lstm ? 4 : 1) * H}));
    }
    readout_weight = truncated_normal_init({o.output_size, H}, H, gen);
    readout_bias = Tensor::zeros({o.output_size});

    register_parameter("leaf.weight", &leaf_weight);
    register_parameter("leaf.bias", &leaf_bias);
    register_parameter("merge.weight", &merge_weight);
    register_parameter("merge.bias", &merge_bias);
    for (int r = 0; r < o.refinements; ++r) {
        register_parameter(fmt::format("refine.{}.weight", r), &refine_weights[r]);
        register_parameter(fmt::format("refine.{}.bias", r), &refine_biases[r]);
    }
    register_parameter("readout.weight", &readout_weight);
    register_parameter("readout.bias", &readout_bias);
}

PrState PrLstm::leaf(const Tensor& x_rows) const {
    if (options_.cell == PrCell::Rnn) return {linear(x_rows, leaf_weight, leaf_bias), Tensor()};
    int64_t H = options_.hidden_size;
    std::vector<Tensor> gates = split(linear(x_rows, leaf_weight, leaf_bias), {H, H, H}, 1);  // i, g, o
    Tensor c = sigmoid(gates[0]) * tanh(gates[1]);
    return {sigmoid(gates[2]) * tanh(c), c};
}

PrState PrLstm::refine(const PrState& s, int r) const {
    if (options_.cell == PrCell::Rnn) return {relu(linear(s.h, refine_weights[r], refine_biases[r])), Tensor()};
    int64_t H = options_.hidden_size;
    std::vector<Tensor> gates = split(linear(s.h, refine_weights[r], refine_biases[r]), {H, H, H, H}, 1);  // i, g, o, f
    Tensor c = sigmoid(gates[0]) * tanh(gates[1]) + sigmoid(gates[3]) * s.c;
    return {sigmoid(gates[2]) * tanh(c), c};
}

PrState PrLstm::merge(const PrState& left, const PrState& right) {
    return merge_pairs(concat({left.h, right.h}, 1), left.c, right.c);
}

PrState PrLstm::merge_pairs(const Tensor& h_pairs, const Tensor& c_left, const Tensor& c_right) {
    ++merge_calls_;
    PrState s;
    if (options_.cell == PrCell::Rnn) {
        s.h = relu(linear(h_pairs, merge_weight, merge_bias));
    } else {
        int64_t H = options_.hidden_size;
        std::vector<Tensor> gates = split(linear(h_pairs, merge_weight, merge_bias), {H, H, H, H, H}, 1);
        // gates: i, g, o, f_L, f_R
        s.c = sigmoid(gates[0]) * tanh(gates[1]) + sigmoid(gates[3]) * c_left + sigmoid(gates[4]) * c_right;
        s.h = sigmoid(gates[2]) * tanh(s.c);
    }
    for (int r = 0; r < options_.refinements; ++r) s = refine(s, r);
    return s;
}

namespace {

// A node of the scan: row `index` (per sequence) of source tensor `source`, whose rows are laid
// out [B, rows_per_sequence] (row b * rows_per_sequence + index).
struct NodeRef {
    int source;
    int64_t index;
};

// The sources of a scan: leaves, dyadic block levels and prefix groups, each [B * m, H].
struct Sources {
    std::vector<PrState> states;
    std::vector<int64_t> rows_per_sequence;
    int64_t batch = 0;

    int add(const PrState& s, int64_t m) {
        states.push_back(s);
        rows_per_sequence.push_back(m);
        return int(states.size()) - 1;
    }

    // The rows of `refs` for every sequence, [B * refs.size(), H] ordered (b, k). Each gather is
    // one index_select over the referenced sources (concatenated first when there are several).
    PrState gather(const std::vector<NodeRef>& refs, bool with_c) const {
        std::map<int, int64_t> offset;  // source -> its first row in the concatenation
        for (const NodeRef& r : refs) offset.emplace(r.source, 0);
        std::vector<Tensor> hs, cs;
        int64_t rows = 0;
        for (auto& [source, start] : offset) {
            start = rows;
            rows += batch * rows_per_sequence[source];
            hs.push_back(states[source].h);
            if (with_c) cs.push_back(states[source].c);
        }
        std::vector<int64_t> index;
        index.reserve(batch * refs.size());
        for (int64_t b = 0; b < batch; ++b)
            for (const NodeRef& r : refs) index.push_back(offset[r.source] + b * rows_per_sequence[r.source] + r.index);
        Tensor index_tensor = Tensor::from_vector(index, {int64_t(index.size())}, hs[0].device());
        PrState out;
        out.h = index_select(hs.size() == 1 ? hs[0] : concat(hs, 0), 0, index_tensor);
        if (with_c) out.c = index_select(cs.size() == 1 ? cs[0] : concat(cs, 0), 0, index_tensor);
        return out;
    }
};

}  // namespace

// The two-phase schedule (notes §6), equal to JAX's associative_scan bracketing (notes §2.4):
//  1. Blocks: level k holds the m_k = floor(n / 2^k) aligned blocks of 2^k leaves,
//     D_k[j] = M(D_{k-1}[2j], D_{k-1}[2j+1]): one batched merge per level.
//  2. Prefixes: P[t] = D_a[0] when t+1 = 2^a; otherwise, with a = the lowest set bit of t+1,
//     P[t] = M(P[t - 2^a], D_a[(t+1)/2^a - 1]). P[t - 2^a] has a higher lowest set bit, so the
//     groups of equal a, taken from the highest a down, are one batched merge each.
PrState PrLstm::scan(const Tensor& x, bool with_c) {
    if (x.dim() != 3 || x.shape()[2] != options_.input_size)
        fail("PrLstm", "x is {} but expected [B, n, {}] (one-hot width V+1 = input_size)", x.describe(),
             options_.input_size);
    int64_t B = x.shape()[0], n = x.shape()[1], H = options_.hidden_size;
    if (B < 1 || n < 1) fail("PrLstm", "x is {}: need at least one sequence and one position", x.describe());
    bool lstm = options_.cell == PrCell::Lstm;
    with_c = with_c && lstm;

    Sources sources;
    sources.batch = B;
    sources.add(leaf(reshape(x, {B * n, options_.input_size})), n);  // level 0: [B * n, H]

    for (int64_t m = n / 2; m >= 1; m /= 2) {
        int below = int(sources.states.size()) - 1;
        std::vector<NodeRef> pairs, lefts, rights;  // pairs: left, right interleaved
        for (int64_t j = 0; j < m; ++j) {
            pairs.push_back({below, 2 * j});
            pairs.push_back({below, 2 * j + 1});
            lefts.push_back({below, 2 * j});
            rights.push_back({below, 2 * j + 1});
        }
        Tensor h_pairs = reshape(sources.gather(pairs, false).h, {B * m, 2 * H});  // rows [h_L; h_R]
        Tensor c_left, c_right;
        if (lstm) {
            c_left = sources.gather(lefts, true).c;
            c_right = sources.gather(rights, true).c;
        }
        sources.add(merge_pairs(h_pairs, c_left, c_right), m);
    }

    std::vector<NodeRef> prefix(n);
    for (int a = 0; (int64_t(1) << a) <= n; ++a) prefix[(int64_t(1) << a) - 1] = {a, 0};
    for (int a = int(sources.states.size()) - 1; a >= 0; --a) {
        int64_t size = int64_t(1) << a;
        std::vector<int64_t> group;  // positions t with t+1 = odd multiple (>= 3) of 2^a
        for (int64_t t = 3 * size - 1; t < n; t += 2 * size) group.push_back(t);
        if (group.empty()) continue;
        std::vector<NodeRef> pairs, lefts, rights;
        for (int64_t t : group) {
            NodeRef left = prefix[t - size], right = {a, (t + 1) / size - 1};
            pairs.push_back(left);
            pairs.push_back(right);
            lefts.push_back(left);
            rights.push_back(right);
        }
        int64_t m = int64_t(group.size());
        Tensor h_pairs = reshape(sources.gather(pairs, false).h, {B * m, 2 * H});
        Tensor c_left, c_right;
        if (lstm) {
            c_left = sources.gather(lefts, true).c;
            c_right = sources.gather(rights, true).c;
        }
        int g = sources.add(merge_pairs(h_pairs, c_left, c_right), m);
        for (int64_t k = 0; k < m; ++k) prefix[group[k]] = {g, k};
    }

    PrState out = sources.gather(prefix, with_c);
    out.h = reshape(out.h, {B, n, H});
    if (with_c) out.c = reshape(out.c, {B, n, H});
    return out;
}

PrState PrLstm::prefix_states(const Tensor& x) { return scan(x, true); }

Tensor PrLstm::forward(const Tensor& x) { return linear(relu(scan(x, false).h), readout_weight, readout_bias); }

}  // namespace tapegrad
