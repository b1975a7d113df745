#define BOOST_TEST_MODULE pr_lstm
#include <cmath>
#include <cstring>
#include <functional>

#include "models/pr_lstm.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;

namespace {

PrLstmOptions small_options(int refinements, PrCell cell = PrCell::Lstm, int64_t hidden = 3) {
    PrLstmOptions o;
    o.input_size = 3;
    o.hidden_size = hidden;
    o.output_size = 2;
    o.refinements = refinements;
    o.cell = cell;
    return o;
}

// A float64 model with non-zero biases (zero biases would hide a bias gradient bug).
std::unique_ptr<PrLstm> float64_model(const PrLstmOptions& o, uint64_t seed) {
    Generator gen(seed);
    auto model = std::make_unique<PrLstm>(o, gen);
    model->to(DType::Float64);
    NoGrad no_grad;
    uint64_t k = 100;
    for (auto& [name, p] : model->named_parameters()) {
        Tensor noise = input(p.shape(), seed * 1000 + k++, -0.5, 0.5);
        std::vector<double> values = p.to_vector<double>(), extra = noise.to_vector<double>();
        for (size_t i = 0; i < values.size(); ++i) values[i] += extra[i];
        std::memcpy(p.data<double>(), values.data(), values.size() * sizeof(double));
    }
    return model;
}

// The closed form of notes §2.4, evaluated for one sequence and one prefix at a time with
// single-row calls of the model's leaf and merge: t+1 = 2^a1 + ... + 2^ak (a1 > ... > ak) cuts
// 0..t into aligned blocks of those sizes; each block is the balanced tree of M over its leaves;
// P[t] = M(...M(M(D1, D2), D3)..., Dk).
struct ClosedForm {
    PrLstm& model;
    Tensor x;  // [n, V+1] of one sequence

    PrState block(int64_t start, int64_t size) {
        if (size == 1) return model.leaf(slice(x, 0, start, start + 1));
        return model.merge(block(start, size / 2), block(start + size / 2, size / 2));
    }

    PrState prefix(int64_t t) {
        PrState folded;
        int64_t start = 0;
        for (int a = 62; a >= 0; --a) {
            int64_t size = int64_t(1) << a;
            if (!((t + 1) & size)) continue;
            PrState d = block(start, size);
            folded = start == 0 ? d : model.merge(folded, d);
            start += size;
        }
        return folded;
    }
};

Tensor one_hot_inputs(int64_t B, int64_t n, int64_t width, uint64_t seed) {
    std::vector<double> values(B * n * width, 0.0);
    for (int64_t r = 0; r < B * n; ++r) values[r * width + int64_t(philox_uniform(seed, r) * width)] = 1.0;
    return Tensor::from_vector(values, {B, n, width});
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
    std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
    BOOST_REQUIRE_EQUAL(x.size(), y.size());
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
    return worst;
}

// Batched merge calls of JAX's recursion (notes §2.4): one up-sweep call per level with
// n_k >= 2 and one down-sweep call per level with ceil(n_k / 2) - 1 >= 1.
int64_t jax_merge_calls(int64_t n) {
    int64_t calls = 0;
    for (int64_t m = n; m >= 2; m /= 2) calls += 1 + ((m + 1) / 2 - 1 >= 1 ? 1 : 0);
    return calls;
}

}  // namespace

// For n = 1..70 the batched schedule equals the closed form evaluated prefix by prefix. The
// closed form of P[t] does not depend on n, so it is computed once for the longest input and
// every shorter run is compared with its first n positions.
BOOST_AUTO_TEST_CASE(pr_lstm_schedule_matches_closed_form) {
    for (PrCell cell : {PrCell::Lstm, PrCell::Rnn}) {
        NoGrad no_grad;
        auto model = float64_model(small_options(1, cell, 4), 7);
        const int64_t B = 2, N = 70;
        Tensor x = one_hot_inputs(B, N, 3, 11);
        std::vector<Tensor> ref_h(B), ref_c(B);
        for (int64_t b = 0; b < B; ++b) {
            ClosedForm closed{*model, reshape(slice(x, 0, b, b + 1), {N, 3})};
            std::vector<Tensor> hs, cs;
            for (int64_t t = 0; t < N; ++t) {
                PrState p = closed.prefix(t);
                hs.push_back(p.h);
                if (cell == PrCell::Lstm) cs.push_back(p.c);
            }
            ref_h[b] = concat(hs, 0);
            if (cell == PrCell::Lstm) ref_c[b] = concat(cs, 0);
        }
        for (int64_t n = 1; n <= N; ++n) {
            PrState s = model->prefix_states(slice(x, 1, 0, n));
            for (int64_t b = 0; b < B; ++b) {
                Tensor h = reshape(slice(s.h, 0, b, b + 1), {n, 4});
                double dh = max_abs_difference(h, slice(ref_h[b], 0, 0, n));
                BOOST_CHECK_MESSAGE(dh < 1e-13, "h differs at n = " << n << ", b = " << b << " by " << dh);
                if (cell == PrCell::Lstm) {
                    Tensor c = reshape(slice(s.c, 0, b, b + 1), {n, 4});
                    double dc = max_abs_difference(c, slice(ref_c[b], 0, 0, n));
                    BOOST_CHECK_MESSAGE(dc < 1e-13, "c differs at n = " << n << ", b = " << b << " by " << dc);
                }
            }
        }
    }
}

// A bracketing error would show as a large difference; check that the test would see one.
BOOST_AUTO_TEST_CASE(pr_lstm_merge_is_not_associative) {
    NoGrad no_grad;
    auto model = float64_model(small_options(1), 3);
    Tensor x = reshape(one_hot_inputs(1, 3, 3, 5), {3, 3});
    PrState l0 = model->leaf(slice(x, 0, 0, 1)), l1 = model->leaf(slice(x, 0, 1, 2)), l2 = model->leaf(slice(x, 0, 2, 3));
    PrState left_first = model->merge(model->merge(l0, l1), l2);
    PrState right_first = model->merge(l0, model->merge(l1, l2));
    BOOST_CHECK_GT(max_abs_difference(left_first.h, right_first.h), 1e-3);
}

BOOST_AUTO_TEST_CASE(pr_lstm_gradient) {
    struct Variant {
        int refinements;
        PrCell cell;
    };
    for (Variant v : {Variant{1, PrCell::Lstm}, Variant{0, PrCell::Lstm}, Variant{2, PrCell::Lstm}, Variant{1, PrCell::Rnn},
                      Variant{0, PrCell::Rnn}, Variant{2, PrCell::Rnn}}) {
        auto model = float64_model(small_options(v.refinements, v.cell, 2), 21 + v.refinements);
        for (int64_t n = 1; n <= 11; ++n) {
            BOOST_TEST_CONTEXT("R = " << v.refinements << (v.cell == PrCell::Rnn ? " PR-RNN" : " PR-LSTM") << ", n = " << n) {
                Tensor x = input({1, n, 3}, 40 + n);
                std::vector<Tensor> inputs = model->parameters();
                inputs.insert(inputs.begin(), x);
                PrLstm& m = *model;
                TAPEGRAD_CHECK_GRADIENT([&m](const std::vector<Tensor>& in) { return m.forward(in[0]); }, inputs);
            }
        }
    }
}

// Gradient through both a batch of two sequences and the c output.
BOOST_AUTO_TEST_CASE(pr_lstm_batch_state_gradient) {
    auto model = float64_model(small_options(1, PrCell::Lstm, 3), 5);
    Tensor x = input({2, 7, 3}, 9);
    std::vector<Tensor> inputs = model->parameters();
    inputs.insert(inputs.begin(), x);
    PrLstm& m = *model;
    TAPEGRAD_CHECK_GRADIENT([&m](const std::vector<Tensor>& in) {
        PrState s = m.prefix_states(in[0]);
        return concat({s.h, s.c}, 2);
    }, inputs);
}

// Right-padding a batch never changes the states of the real positions (up to float64
// rounding: BLAS may block a GEMM of more rows differently; a change of bracketing shows as
// differences of order 1e-1, see pr_lstm_merge_is_not_associative).
BOOST_AUTO_TEST_CASE(pr_lstm_causality) {
    NoGrad no_grad;
    auto model = float64_model(small_options(2, PrCell::Lstm, 5), 13);
    for (int64_t n : {1, 5, 12, 33}) {
        Tensor x = one_hot_inputs(3, n, 3, 17);
        PrState alone = model->prefix_states(x);
        for (int64_t pad : {1, 3, 30}) {
            Tensor padded = concat({x, one_hot_inputs(3, pad, 3, 19 + pad)}, 1);
            PrState s = model->prefix_states(padded);
            BOOST_CHECK_SMALL(max_abs_difference(slice(s.h, 1, 0, n), alone.h), 1e-14);
            BOOST_CHECK_SMALL(max_abs_difference(slice(s.c, 1, 0, n), alone.c), 1e-14);
        }
    }
}

BOOST_AUTO_TEST_CASE(pr_lstm_merge_calls) {
    NoGrad no_grad;
    Generator gen(1);
    PrLstm model(small_options(1), gen);
    for (int64_t n : {1, 2, 3, 4, 5, 8, 11, 40, 64, 65, 500}) {
        for (int64_t B : {1, 3}) {
            model.reset_merge_calls();
            model.forward(Tensor::zeros({B, n, 3}));
            BOOST_CHECK_MESSAGE(model.merge_calls() == jax_merge_calls(n),
                                "n = " << n << ": " << model.merge_calls() << " calls, JAX makes " << jax_merge_calls(n));
        }
    }
    model.reset_merge_calls();
    model.forward(Tensor::zeros({2, 40, 3}));
    BOOST_CHECK_EQUAL(model.merge_calls(), 9);
    model.reset_merge_calls();
    model.forward(Tensor::zeros({2, 500, 3}));
    BOOST_CHECK_EQUAL(model.merge_calls(), 16);
}

// Notes §2.6, parity_check (V = 2, O = 2) at H = 256.
BOOST_AUTO_TEST_CASE(pr_lstm_parameter_counts) {
    Generator gen(0);
    for (auto [R, expected] : {std::pair<int, int64_t>{1, 923394}, {0, 660226}, {2, 1186562}}) {
        PrLstmOptions o;
        o.input_size = 3;
        o.hidden_size = 256;
        o.output_size = 2;
        o.refinements = R;
        PrLstm model(o, gen);
        BOOST_CHECK_EQUAL(model.num_parameters(), expected);
        BOOST_CHECK_EQUAL(pr_lstm_parameter_count(o), expected);
    }
    PrLstmOptions o = small_options(2, PrCell::Lstm, 4);
    PrLstm model(o, gen);
    std::vector<std::string> names;
    for (auto& [name, p] : model.named_parameters()) names.push_back(name);
    std::vector<std::string> expected = {"leaf.weight", "leaf.bias", "merge.weight", "merge.bias", "refine.0.weight",
                                         "refine.0.bias", "refine.1.weight", "refine.1.bias", "readout.weight", "readout.bias"};
    BOOST_CHECK(names == expected);
    BOOST_CHECK(model.merge_weight.shape() == (Shape{20, 8}));
    BOOST_CHECK(model.refine_weights[1].shape() == (Shape{16, 4}));
    PrLstm rnn(small_options(1, PrCell::Rnn, 4), gen);
    BOOST_CHECK_EQUAL(rnn.num_parameters(), pr_lstm_parameter_count(small_options(1, PrCell::Rnn, 4)));
    BOOST_CHECK_EQUAL(rnn.num_parameters(), 4 * 4 + 4 * 9 + 4 * 5 + 2 * 5);
}

// Haiku's init: |w| <= 2 / sqrt(fan_in), standard deviation of the truncated normal
// (0.880 / sqrt(fan_in)), zero biases.
BOOST_AUTO_TEST_CASE(pr_lstm_init) {
    Generator gen(3);
    PrLstmOptions o;
    o.input_size = 3;
    o.hidden_size = 64;
    o.output_size = 2;
    PrLstm model(o, gen);
    std::vector<float> w = model.merge_weight.to_vector<float>();
    double bound = 2.0 / std::sqrt(128.0), sum = 0, sum_sq = 0;
    for (float v : w) {
        BOOST_REQUIRE_LE(std::fabs(v), bound);
        sum += v;
        sum_sq += double(v) * v;
    }
    double mean = sum / w.size(), stddev = std::sqrt(sum_sq / w.size() - mean * mean);
    BOOST_CHECK_SMALL(mean, 0.005);
    BOOST_CHECK_CLOSE(stddev, 0.8796 / std::sqrt(128.0), 2.0);
    for (float b : model.merge_bias.to_vector<float>()) BOOST_CHECK_EQUAL(b, 0.0f);
}

BOOST_AUTO_TEST_CASE(pr_lstm_bad_input) {
    Generator gen(0);
    PrLstm model(small_options(1), gen);
    TAPEGRAD_CHECK_ERROR(model.forward(Tensor::zeros({2, 5, 4})), "PrLstm", "[2, 5, 4]", "[B, n, 3]");
    TAPEGRAD_CHECK_ERROR(model.forward(Tensor::zeros({2, 0, 3})), "PrLstm");
}
