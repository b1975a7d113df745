// QL-LSTM (our reading): gradients through PSUG gates and block skips, every ablation, block
// boundaries against T, padded batches, parameter counts.
#define BOOST_TEST_MODULE ql_lstm
#include "models/ql_lstm.h"
#include "tests/ql_lstm_ablations.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;
using Inputs = std::vector<Tensor>;

namespace {
void check(QlLstmOptions options, int64_t steps, std::vector<int64_t> lengths, uint64_t seed) {
    Generator gen(seed);
    QlLstm net(3, 4, gen, options);
    net.to(DType::Float64);
    Tensor x = input({2, steps, 3}, seed + 1);
    Inputs all = {x};
    for (const Tensor& p : net.parameters()) all.push_back(p);
    TAPEGRAD_CHECK_GRADIENT(
        [&](const Inputs&) {
            RecurrentOutput out = net.forward(x, lengths);
            return concat({out.output, unsqueeze(out.last[0].c, 1)}, 1);
        },
        all);
}
}  // namespace

BOOST_AUTO_TEST_CASE(ql_lstm_gradient_block_boundaries) {
    QlLstmOptions o;
    o.block_size = 2;
    for (int64_t steps : {1, 2, 5, 6}) {  // T < K, T = K, T not a multiple of K, T a multiple
        BOOST_TEST_CONTEXT("T " << steps) {
            check(o, steps, {}, 10 + steps);
            check(o, steps, {steps, std::max<int64_t>(1, steps - 1)}, 20 + steps);  // mixed lengths
        }
    }
    o.block_size = 4;
    check(o, 3, {3, 2}, 30);  // T < K with padding
}

BOOST_AUTO_TEST_CASE(ql_lstm_gradient_every_ablation) {
    int i = 0;
    for (const QlLstmOptions& o : tapegrad::testing::ql_lstm_ablations()) {
        BOOST_TEST_CONTEXT("ablation " << i++) { check(o, 5, {5, 3}, 40 + i); }
    }
}

BOOST_AUTO_TEST_CASE(ql_lstm_padding_invariance) {
    Generator gen(50);
    QlLstmOptions o;
    o.block_size = 2;
    QlLstm net(3, 4, gen, o);
    net.to(DType::Float64);
    Tensor real = input({1, 3, 3}, 51);
    Tensor padded = concat({real, input({1, 2, 3}, 52)}, 1);
    std::vector<double> a = net.forward(padded, {3}).output.to_double_vector();
    RecurrentOutput alone = net.forward(real);
    std::vector<double> b = alone.output.to_double_vector();
    for (size_t k = 0; k < b.size(); ++k) BOOST_CHECK_SMALL(a[k] - b[k], 1e-12);
    for (size_t k = b.size(); k < a.size(); ++k) BOOST_CHECK_EQUAL(a[k], 0.0);
    std::vector<double> ca = net.forward(padded, {3}).last[0].c.to_double_vector(), cb = alone.last[0].c.to_double_vector();
    for (size_t k = 0; k < cb.size(); ++k) BOOST_CHECK_SMALL(ca[k] - cb[k], 1e-12);
    // A batch whose sequences end blocks at different steps (lengths 5 and 3, K = 2: the skip is
    // masked per sequence) equals each sequence run alone (where every block end is shared).
    Tensor other = input({1, 5, 3}, 53);
    std::vector<double> mixed = net.forward(concat({other, padded}, 0), {5, 3}).output.to_double_vector();
    std::vector<double> first = net.forward(other).output.to_double_vector();
    for (size_t k = 0; k < first.size(); ++k) BOOST_CHECK_SMALL(mixed[k] - first[k], 1e-12);
    for (size_t k = 0; k < b.size(); ++k) BOOST_CHECK_SMALL(mixed[first.size() + k] - b[k], 1e-12);
}

BOOST_AUTO_TEST_CASE(ql_lstm_skip_changes_the_cell_state) {
    // With the skip on, the cell state after a block differs from the same PSUG cell without it.
    Generator g1(60), g2(60);
    QlLstmOptions with_skip, without;
    with_skip.block_size = 2;
    without.hgr = false;
    QlLstm a(3, 4, g1, with_skip), b(3, 4, g2, without);
    Generator data(61);
    Tensor x = Tensor::randn({2, 2, 3}, data);
    std::vector<float> ca = a.forward(x).last[0].c.to_vector<float>(), cb = b.forward(x).last[0].c.to_vector<float>();
    BOOST_CHECK(ca != cb);
}

BOOST_AUTO_TEST_CASE(ql_lstm_parameter_counts) {
    Generator gen(70);
    for (bool psug : {true, false})
        for (bool hgr : {true, false})
            for (bool gated : {true, false}) {
                QlLstmOptions o;
                o.psug = psug, o.hgr = hgr, o.gated_skip = gated;
                QlLstm net(5, 6, gen, o);
                BOOST_CHECK_EQUAL(net.num_parameters(), QlLstm::parameter_count(5, 6, o));
            }
    // PSUG with scales, HGR-ASC with V_s at D = H = 128: 2*128^2 + 8*128 + 2*128^2 + 128.
    BOOST_CHECK_EQUAL(QlLstm::parameter_count(128, 128, {}), 4 * 128 * 128 + 9 * 128);
}
