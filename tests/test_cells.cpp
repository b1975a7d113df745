#define BOOST_TEST_MODULE cells
#include <cmath>
#include <functional>

#include "models/bilstm.h"
#include "models/gru.h"
#include "models/lstm.h"
#include "models/ql_lstm.h"
#include "models/rnn.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;

namespace {

constexpr int64_t B = 2, T = 5, D = 3, H = 4;
const std::vector<int64_t> kLengths{5, 3};  // row 1 is padded from t = 3

using Forward = std::function<RecurrentOutput(const Tensor& x, const std::vector<int64_t>& lengths,
                                              const RecurrentState& initial)>;

// Output, final h and (if any) final c flattened into one vector, so one gradcheck sees all three.
Tensor flat(const RecurrentOutput& r) {
    std::vector<Tensor> parts{reshape(r.output, {-1}), reshape(r.state.h, {-1})};
    if (r.state.c.defined()) parts.push_back(reshape(r.state.c, {-1}));
    return concat(parts, 0);
}

// Gradcheck of a float64 module on x, the initial state and every parameter, padded batch.
void check_module_gradient(Module& model, const Forward& forward, int64_t steps, int64_t state_entries,
                           bool has_cell, const std::vector<int64_t>& lengths = kLengths) {
    model.to(DType::Float64);
    std::vector<Tensor> inputs{input({B, steps, D}, 11), input({state_entries, B, H}, 12),
                               has_cell ? input({state_entries, B, H}, 13) : input({1}, 14)};
    for (const Tensor& p : model.parameters()) inputs.push_back(p);
    TAPEGRAD_CHECK_GRADIENT(
        [&](const std::vector<Tensor>& in) {
            return flat(forward(in[0], lengths, {in[1], has_cell ? in[2] : Tensor()}));
        },
        inputs);
}

template <typename M> Forward forward_of(const M& model) {
    return [&model](const Tensor& x, const std::vector<int64_t>& lengths, const RecurrentState& s) {
        return model.forward(x, lengths, s);
    };
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
    BOOST_REQUIRE_EQUAL(a.size(), b.size());
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

double sigm(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// y[r] = sum_c w[r, c] v[c] (+ bias[r]) for a row-major [rows, cols] w.
std::vector<double> affine(const std::vector<double>& w, const std::vector<double>& v, size_t rows,
                           const std::vector<double>& bias = {}) {
    std::vector<double> y(rows, 0.0);
    for (size_t r = 0; r < rows; ++r) {
        for (size_t c = 0; c < v.size(); ++c) y[r] += w[r * v.size() + c] * v[c];
        if (!bias.empty()) y[r] += bias[r];
    }
    return y;
}

std::vector<double> row_at(const std::vector<double>& x, int64_t b, int64_t t, int64_t steps, int64_t width) {
    auto begin = x.begin() + (b * steps + t) * width;
    return {begin, begin + width};
}

}  // namespace

BOOST_AUTO_TEST_CASE(rnn_gradcheck_padded) {
    Generator gen(1);
    RNN rnn(D, H, gen);
    check_module_gradient(rnn, forward_of(rnn), T, 1, false);
}

BOOST_AUTO_TEST_CASE(lstm_gradcheck_padded) {
    Generator gen(2);
    LSTM lstm(D, H, gen, {1, 1.0});
    check_module_gradient(lstm, forward_of(lstm), T, 1, true);
}

BOOST_AUTO_TEST_CASE(gru_gradcheck_padded) {
    Generator gen(3);
    GRU gru(D, H, gen);
    check_module_gradient(gru, forward_of(gru), T, 1, false);
}

BOOST_AUTO_TEST_CASE(bilstm_gradcheck_padded) {
    Generator gen(4);
    BiLSTM bilstm(D, H, gen);
    check_module_gradient(bilstm, forward_of(bilstm), T, 2, true);
}

BOOST_AUTO_TEST_CASE(two_layer_gradchecks) {
    Generator gen(5);
    RNN rnn(D, H, gen, 2);
    check_module_gradient(rnn, forward_of(rnn), T, 2, false);
    LSTM lstm(D, H, gen, {2, {}});
    check_module_gradient(lstm, forward_of(lstm), T, 2, true);
    GRU gru(D, H, gen, 2);
    check_module_gradient(gru, forward_of(gru), T, 2, false);
    BiLSTM bilstm(D, H, gen, {2, {}});
    check_module_gradient(bilstm, forward_of(bilstm), T, 4, true);
    QLLSTMOptions o;
    o.num_layers = 2;
    o.block_size = 2;
    QLLSTM ql(D, H, gen, o);
    check_module_gradient(ql, forward_of(ql), T, 2, true);
}

// Every ablation, and block sizes that do not divide T (K=2, K=3), T < K, T = K.
BOOST_AUTO_TEST_CASE(ql_lstm_gradcheck_variants) {
    struct Case {
        const char* name;
        QLLSTMOptions options;
        int64_t steps;
    };
    auto opts = [](bool psug, bool hgr, int64_t k, BlockPooling pool, bool recurrence, bool gated, bool scales) {
        QLLSTMOptions o;
        o.psug = psug;
        o.hgr_asc = hgr;
        o.block_size = k;
        o.pooling = pool;
        o.block_recurrence = recurrence;
        o.gated_skip = gated;
        o.gate_scales = scales;
        return o;
    };
    const std::vector<Case> cases{
        {"both, K=2 (K does not divide T=5)", opts(true, true, 2, BlockPooling::Mean, true, false, true), 5},
        {"both, K=3, T=7 (not a multiple)", opts(true, true, 3, BlockPooling::Mean, true, false, true), 7},
        {"both, T < K", opts(true, true, 16, BlockPooling::Mean, true, false, true), 5},
        {"both, T = K", opts(true, true, 5, BlockPooling::Mean, true, false, true), 5},
        {"PSUG only", opts(true, false, 2, BlockPooling::Mean, true, false, true), 5},
        {"PSUG without gate scales", opts(true, false, 2, BlockPooling::Mean, true, false, false), 5},
        {"HGR-ASC on a plain LSTM", opts(false, true, 2, BlockPooling::Mean, true, false, true), 5},
        {"max pooling", opts(true, true, 2, BlockPooling::Max, true, false, true), 5},
        {"no block recurrence V_s", opts(true, true, 2, BlockPooling::Mean, false, false, true), 5},
        {"gated skip", opts(true, true, 2, BlockPooling::Mean, true, true, true), 5},
    };
    for (const Case& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            Generator gen(6);
            QLLSTM ql(D, H, gen, c.options);
            BOOST_CHECK_EQUAL(ql.num_parameters(), QLLSTM::count_parameters(D, H, c.options));
            const std::vector<int64_t> lengths{c.steps, c.steps - 2};
            check_module_gradient(ql, forward_of(ql), c.steps, 1, true, lengths);
        }
    }
}

// The skip fires at the end of each full block: outputs before the first block end equal the
// PSUG-only cell's (same weights: the generator draws the gate weights first), the output AT the
// block end too (h is not recomputed), and they differ from the step after.
BOOST_AUTO_TEST_CASE(ql_lstm_skip_fires_after_block_end) {
    QLLSTMOptions with;
    with.block_size = 3;
    QLLSTMOptions without = with;
    without.hgr_asc = false;
    Generator g1(7), g2(7);
    QLLSTM a(D, H, g1, with), b(D, H, g2, without);
    a.to(DType::Float64);
    b.to(DType::Float64);
    Tensor x = input({B, 6, D}, 15);
    const std::vector<double> ya = a.forward(x).output.to_double_vector();
    const std::vector<double> yb = b.forward(x).output.to_double_vector();
    for (int64_t r = 0; r < B; ++r)
        for (int64_t t = 0; t < 6; ++t) {
            const double d = max_abs_diff(row_at(ya, r, t, 6, H), row_at(yb, r, t, 6, H));
            if (t <= 2) BOOST_CHECK_SMALL(d, 1e-7);
            else BOOST_CHECK_GT(d, 1e-5);
        }
}

BOOST_AUTO_TEST_CASE(lstm_matches_hand_written_equations) {
    Generator gen(8);
    LSTM lstm(D, H, gen);
    lstm.to(DType::Float64);
    Tensor x = input({B, T, D}, 16);
    const RecurrentOutput r = lstm.forward(x, kLengths);
    const auto named = lstm.named_parameters();
    const std::vector<double> wi = named[0].second.to_vector<double>(), wh = named[1].second.to_vector<double>(),
                              bias = named[2].second.to_vector<double>(), xs = x.to_vector<double>();
    const std::vector<double> out = r.output.to_vector<double>(), hf = r.state.h.to_vector<double>(),
                              cf = r.state.c.to_vector<double>();
    for (int64_t b = 0; b < B; ++b) {
        std::vector<double> h(H, 0.0), c(H, 0.0);
        for (int64_t t = 0; t < T; ++t) {
            std::vector<double> expected(H, 0.0);
            if (t < kLengths[size_t(b)]) {
                const std::vector<double> zx = affine(wi, row_at(xs, b, t, T, D), 4 * H, bias), zh = affine(wh, h, 4 * H);
                for (int64_t j = 0; j < H; ++j) {
                    const double i = sigm(zx[j] + zh[j]), f = sigm(zx[H + j] + zh[H + j]),
                                 g = std::tanh(zx[2 * H + j] + zh[2 * H + j]), o = sigm(zx[3 * H + j] + zh[3 * H + j]);
                    c[size_t(j)] = f * c[size_t(j)] + i * g;
                    h[size_t(j)] = o * std::tanh(c[size_t(j)]);
                }
                expected = h;
            }
            BOOST_CHECK_SMALL(max_abs_diff(row_at(out, b, t, T, H), expected), 1e-12);
        }
        BOOST_CHECK_SMALL(max_abs_diff(row_at(hf, 0, b, B, H), h), 1e-12);
        BOOST_CHECK_SMALL(max_abs_diff(row_at(cf, 0, b, B, H), c), 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(gru_matches_hand_written_pytorch_equations) {
    Generator gen(9);
    GRU gru(D, H, gen);
    gru.to(DType::Float64);
    Tensor x = input({B, T, D}, 17);
    const RecurrentOutput r = gru.forward(x, kLengths);
    const auto named = gru.named_parameters();
    const std::vector<double> wi = named[0].second.to_vector<double>(), wh = named[1].second.to_vector<double>(),
                              bi = named[2].second.to_vector<double>(), bh = named[3].second.to_vector<double>(),
                              xs = x.to_vector<double>();
    const std::vector<double> out = r.output.to_vector<double>(), hf = r.state.h.to_vector<double>();
    for (int64_t b = 0; b < B; ++b) {
        std::vector<double> h(H, 0.0);
        for (int64_t t = 0; t < T; ++t) {
            std::vector<double> expected(H, 0.0);
            if (t < kLengths[size_t(b)]) {
                const std::vector<double> a = affine(wi, row_at(xs, b, t, T, D), 3 * H, bi), u = affine(wh, h, 3 * H, bh);
                for (int64_t j = 0; j < H; ++j) {
                    const double rg = sigm(a[j] + u[j]), z = sigm(a[H + j] + u[H + j]),
                                 n = std::tanh(a[2 * H + j] + rg * u[2 * H + j]);
                    h[size_t(j)] = (1 - z) * n + z * h[size_t(j)];
                }
                expected = h;
            }
            BOOST_CHECK_SMALL(max_abs_diff(row_at(out, b, t, T, H), expected), 1e-12);
        }
        BOOST_CHECK_SMALL(max_abs_diff(row_at(hf, 0, b, B, H), h), 1e-12);
    }
}

// Changing the padding content changes neither the real outputs, nor the final state, nor any
// gradient of a loss on them (parameters and real input positions).
BOOST_AUTO_TEST_CASE(padding_never_reaches_real_positions) {
    Generator gen(10);
    RNN rnn(D, H, gen);
    LSTM lstm(D, H, gen);
    GRU gru(D, H, gen);
    BiLSTM bilstm(D, H, gen);
    QLLSTMOptions o;
    o.block_size = 2;
    QLLSTM ql(D, H, gen, o);
    const std::vector<std::pair<Module*, Forward>> models{
        {&rnn, forward_of(rnn)}, {&lstm, forward_of(lstm)}, {&gru, forward_of(gru)},
        {&bilstm, forward_of(bilstm)}, {&ql, forward_of(ql)}};
    for (const auto& [model, forward] : models) {
        model->to(DType::Float64);
        std::vector<double> first_values, first_grads;
        for (uint64_t padding_seed : {21, 22}) {
            std::vector<double> xv = input({B, T, D}, 20).to_vector<double>();
            const std::vector<double> noise = input({B, T, D}, padding_seed, -5, 5).to_vector<double>();
            for (int64_t t = kLengths[1]; t < T; ++t)
                for (int64_t d = 0; d < D; ++d) xv[size_t((T + t) * D + d)] = noise[size_t((T + t) * D + d)];
            Tensor x = Tensor::from_vector(xv, {B, T, D});
            x.set_requires_grad();
            model->zero_grad();
            const RecurrentOutput r = forward(x, kLengths, {});
            Tensor y = flat(r);
            backward(sum(y * input(y.shape(), 23)));
            std::vector<double> grads = x.grad().to_vector<double>();
            grads.resize(size_t((T + kLengths[1]) * D));  // real positions only: row 0, row 1 up to its length
            for (const Tensor& p : model->parameters()) {
                const std::vector<double> g = p.grad().to_vector<double>();
                grads.insert(grads.end(), g.begin(), g.end());
            }
            const std::vector<double> values = y.to_vector<double>();
            if (first_values.empty()) {
                first_values = values;
                first_grads = grads;
            } else {
                BOOST_CHECK_SMALL(max_abs_diff(values, first_values), 1e-13);
                BOOST_CHECK_SMALL(max_abs_diff(grads, first_grads), 1e-12);
            }
        }
    }
}

// Running T = 3 then T = 2 from the returned state equals one run over T = 5; detach() cuts the
// graph so the second chunk's backward stops at its initial state (truncated BPTT).
BOOST_AUTO_TEST_CASE(initial_state_in_final_state_out) {
    Generator gen(11);
    LSTM lstm(D, H, gen, {2, {}});
    GRU gru(D, H, gen, 2);
    BiLSTM bilstm(D, H, gen);
    QLLSTMOptions o;
    o.block_size = 3;
    o.hgr_asc = false;
    QLLSTM ql(D, H, gen, o);
    const std::vector<std::pair<Module*, Forward>> models{
        {&lstm, forward_of(lstm)}, {&gru, forward_of(gru)}, {&ql, forward_of(ql)}};
    Tensor x = input({B, T, D}, 24);
    for (const auto& [model, forward] : models) {
        model->to(DType::Float64);
        const RecurrentOutput whole = forward(x, {}, {});
        const RecurrentOutput first = forward(slice(x, 1, 0, 3), {}, {});
        const RecurrentState carried = first.state.detach();
        BOOST_CHECK(!carried.h.requires_grad());
        const RecurrentOutput second = forward(slice(x, 1, 3, 5), {}, carried);
        BOOST_CHECK_SMALL(max_abs_diff(concat({first.output, second.output}, 1).to_vector<double>(),
                                       whole.output.to_vector<double>()),
                          1e-13);
        BOOST_CHECK_SMALL(max_abs_diff(second.state.h.to_vector<double>(), whole.state.h.to_vector<double>()), 1e-13);
        model->zero_grad();
        backward(sum(second.output));
        BOOST_CHECK(!x.grad().defined() || max_abs_diff(slice(x.grad(), 1, 0, 3).to_vector<double>(),
                                                        std::vector<double>(size_t(B * 3 * D), 0.0)) == 0.0);
        x.zero_grad();
    }
    bilstm.to(DType::Float64);
    const RecurrentOutput r = bilstm.forward(x, kLengths);
    BOOST_CHECK(r.output.shape() == (Shape{B, T, 2 * H}));
    BOOST_CHECK(r.state.h.shape() == (Shape{2, B, H}));
}

// The backward direction of the BiLSTM starts at each row's last real token: for a row of length
// 3 its output at t equals a plain LSTM (same weights) run over x[2], x[1], x[0].
BOOST_AUTO_TEST_CASE(bilstm_reverses_within_length) {
    Generator gen(12);
    BiLSTM bilstm(D, H, gen);
    bilstm.to(DType::Float64);
    Tensor x = input({B, T, D}, 25);
    const std::vector<double> out = bilstm.forward(x, kLengths).output.to_vector<double>();
    const std::vector<double> rev = reverse_within_lengths(x, kLengths).to_vector<double>();
    const std::vector<double> xs = x.to_vector<double>();
    for (int64_t t = 0; t < kLengths[1]; ++t)
        BOOST_CHECK_SMALL(max_abs_diff(row_at(rev, 1, t, T, D), row_at(xs, 1, kLengths[1] - 1 - t, T, D)), 0.0);
    for (int64_t t = kLengths[1]; t < T; ++t) {
        BOOST_CHECK_SMALL(max_abs_diff(row_at(rev, 1, t, T, D), row_at(xs, 1, t, T, D)), 0.0);
        BOOST_CHECK_SMALL(max_abs_diff(row_at(out, 1, t, T, 2 * H), std::vector<double>(2 * H, 0.0)), 0.0);
    }
    const auto named = bilstm.named_parameters();
    BOOST_CHECK_EQUAL(named[3].first, "l0_reverse.weight_ih");
    const Tensor backward_out =
        lstm_layer(reverse_within_lengths(x, kLengths), StepMasks(kLengths, x), Tensor::zeros({B, H}, DType::Float64),
                   Tensor::zeros({B, H}, DType::Float64), named[3].second, named[4].second, named[5].second)
            .output;
    const std::vector<double> back = reverse_within_lengths(backward_out, kLengths).to_vector<double>();
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) {
            const std::vector<double> row = row_at(out, b, t, T, 2 * H);
            BOOST_CHECK_SMALL(max_abs_diff({row.begin() + H, row.end()}, row_at(back, b, t, T, H)), 1e-13);
        }
}

BOOST_AUTO_TEST_CASE(parameter_counts) {
    Generator gen(13);
    BOOST_CHECK_EQUAL(RNN(D, H, gen, 2).num_parameters(), RNN::count_parameters(D, H, 2));
    BOOST_CHECK_EQUAL(LSTM(D, H, gen, {2, {}}).num_parameters(), LSTM::count_parameters(D, H, 2));
    BOOST_CHECK_EQUAL(GRU(D, H, gen, 2).num_parameters(), GRU::count_parameters(D, H, 2));
    BOOST_CHECK_EQUAL(BiLSTM(D, H, gen, {2, {}}).num_parameters(), BiLSTM::count_parameters(D, H, 2));
    BOOST_CHECK_EQUAL(LSTM::count_parameters(128, 128), 4 * 128 * 256 + 4 * 128);
    BOOST_CHECK_EQUAL(GRU::count_parameters(128, 128), 3 * 128 * 256 + 6 * 128);
    QLLSTMOptions o;
    o.num_layers = 2;
    BOOST_CHECK_EQUAL(QLLSTM(D, H, gen, o).num_parameters(), QLLSTM::count_parameters(D, H, o));
    // Default QL-LSTM: H(D+H) + 8H (PSUG with scales) + 2H² + H (W_s, V_s, b_s).
    BOOST_CHECK_EQUAL(QLLSTM::count_parameters(128, 128), 128 * 256 + 8 * 128 + 2 * 128 * 128 + 128);
}

BOOST_AUTO_TEST_CASE(forget_bias_initialisation) {
    Generator gen(14);
    LSTM lstm(D, H, gen, {1, 1.0});
    const std::vector<float> b = lstm.named_parameters()[2].second.to_vector<float>();
    for (int64_t j = 0; j < 4 * H; ++j)
        if (j >= H && j < 2 * H) BOOST_CHECK_EQUAL(b[size_t(j)], 1.0f);
        else BOOST_CHECK_LT(std::fabs(b[size_t(j)]), 0.5f + 1e-6f);
}

BOOST_AUTO_TEST_CASE(bad_inputs_throw) {
    Generator gen(15);
    LSTM lstm(D, H, gen);
    TAPEGRAD_CHECK_ERROR(lstm.forward(Tensor::zeros({B, T, D + 1})), "LSTM", "[2, 5, 4]");
    TAPEGRAD_CHECK_ERROR(lstm.forward(Tensor::zeros({B, T, D}), {5, 6}), "LSTM", "lengths[1] = 6");
    TAPEGRAD_CHECK_ERROR(lstm.forward(Tensor::zeros({B, T, D}), {5}), "LSTM", "1 lengths");
    TAPEGRAD_CHECK_ERROR(lstm.forward(Tensor::zeros({B, T, D}), {}, {Tensor::zeros({1, B, H + 1}), Tensor()}),
                         "LSTM", "initial state");
    TAPEGRAD_CHECK_ERROR(QLLSTM(D, H, gen, [] { QLLSTMOptions o; o.block_size = 0; return o; }()), "QLLSTM",
                         "block size 0");
}
