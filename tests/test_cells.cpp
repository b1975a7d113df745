// Recurrent cells: gradient checks on padded batches, hand-written references, padding invariance.
#define BOOST_TEST_MODULE cells
#include <cmath>

#include "models/pr_lstm.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "models/transformer.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;
using Inputs = std::vector<Tensor>;

namespace {
const std::vector<int64_t> mixed_lengths = {5, 3};  // B = 2, T = 5: the second sequence is padded

// Gradient check of `module`'s output on x and every parameter, through a random projection.
template <typename Fn>
void check_module_gradient(Module& module, const Tensor& x, Fn forward) {
    module.to(DType::Float64);
    Inputs all = {x};
    for (const Tensor& p : module.parameters()) all.push_back(p);
    TAPEGRAD_CHECK_GRADIENT([&](const Inputs&) { return forward(); }, all);
}

double sigm(double v) { return 1.0 / (1.0 + std::exp(-v)); }
// W [rows, cols] · v
std::vector<double> affine(const std::vector<double>& w, const std::vector<double>& b, const std::vector<double>& v,
                           int64_t rows) {
    std::vector<double> out(rows);
    int64_t cols = int64_t(v.size());
    for (int64_t r = 0; r < rows; ++r) {
        out[r] = b[r];
        for (int64_t c = 0; c < cols; ++c) out[r] += w[r * cols + c] * v[c];
    }
    return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(rnn_lstm_gru_gradient_padded) {
    for (CellType type : {CellType::RNN, CellType::LSTM, CellType::GRU}) {
        BOOST_TEST_CONTEXT("cell " << int(type)) {
            Generator gen(1);
            Recurrent net(type, 3, 4, 1, gen);
            Tensor x = input({2, 5, 3}, 2);
            check_module_gradient(net, x, [&] { return net.forward(x, mixed_lengths).output; });
            // The final state as well (it is read at each sequence's last real token).
            check_module_gradient(net, x, [&] { return net.forward(x, mixed_lengths).last[0].h; });
        }
    }
}

BOOST_AUTO_TEST_CASE(stacked_lstm_with_initial_state_gradient) {
    Generator gen(3);
    Recurrent net(CellType::LSTM, 3, 4, 2, gen, /*forget_bias=*/1.0);
    net.to(DType::Float64);
    Tensor x = input({2, 4, 3}, 4);
    Tensor h0 = input({2, 4}, 5), c0 = input({2, 4}, 6);
    Inputs all = {x, h0, c0};
    for (const Tensor& p : net.parameters()) all.push_back(p);
    TAPEGRAD_CHECK_GRADIENT(
        [&](const Inputs&) {
            RecurrentOutput out = net.forward(x, {4, 2}, {{h0, c0}, {h0 * 0.5, c0 * 0.5}});
            return concat({out.output, unsqueeze(out.last[1].c, 1)}, 1);
        },
        all);
}

BOOST_AUTO_TEST_CASE(bilstm_gradient_padded) {
    Generator gen(7);
    BiLstm net(3, 4, 1, gen);
    Tensor x = input({2, 5, 3}, 8);
    check_module_gradient(net, x, [&] { return net.forward(x, mixed_lengths).output; });
    BOOST_CHECK(net.forward(x, mixed_lengths).output.shape() == (Shape{2, 5, 8}));
}

BOOST_AUTO_TEST_CASE(bilstm_two_layers_gradient_padded) {
    Generator gen(19);
    BiLstm net(3, 4, 2, gen);
    Tensor x = input({2, 5, 3}, 20);
    check_module_gradient(net, x, [&] { return net.forward(x, mixed_lengths).output; });
    check_module_gradient(net, x, [&] {
        RecurrentOutput out = net.forward(x, mixed_lengths);
        return concat({out.last[2].h, out.last[3].c}, 1);  // layer 1: forward h, backward c
    });
}

BOOST_AUTO_TEST_CASE(bilstm_stacks_like_pytorch) {
    // Layer 1 of each direction reads both directions of layer 0: [4H, 2H] input weights, and
    // the forward direction's first output already depends on the sequence's last real input
    // (through layer 0's backward direction). Separately stacked directions would give neither.
    Generator gen(21);
    const int64_t D = 3, H = 4;
    BiLstm net(D, H, 2, gen);
    std::vector<std::string> names;
    for (auto& [name, p] : net.named_parameters()) names.push_back(name + " " + to_string(p.shape()));
    std::vector<std::string> expected = {
        "forward.layers.0.weight_ih [16, 3]",  "forward.layers.0.weight_hh [16, 4]",
        "forward.layers.0.bias_ih [16]",       "forward.layers.0.bias_hh [16]",
        "forward.layers.1.weight_ih [16, 8]",  "forward.layers.1.weight_hh [16, 4]",
        "forward.layers.1.bias_ih [16]",       "forward.layers.1.bias_hh [16]",
        "backward.layers.0.weight_ih [16, 3]", "backward.layers.0.weight_hh [16, 4]",
        "backward.layers.0.bias_ih [16]",      "backward.layers.0.bias_hh [16]",
        "backward.layers.1.weight_ih [16, 8]", "backward.layers.1.weight_hh [16, 4]",
        "backward.layers.1.bias_ih [16]",      "backward.layers.1.bias_hh [16]"};
    BOOST_CHECK_EQUAL_COLLECTIONS(names.begin(), names.end(), expected.begin(), expected.end());
    // PyTorch's count: per direction 4H(D+H) + 8H for layer 0, 4H(2H+H) + 8H for layer 1.
    BOOST_CHECK_EQUAL(net.num_parameters(), 2 * (4 * H * (D + H) + 8 * H) + 2 * (4 * H * (3 * H) + 8 * H));

    net.to(DType::Float64);
    Tensor x = input({2, 5, 3}, 22);
    RecurrentOutput out = net.forward(x, mixed_lengths);
    backward(sum(slice(slice(out.output, 1, 0, 1), 2, 0, H)));  // forward half of layer 1 at t = 0
    std::vector<double> g = x.grad().to_double_vector();
    for (int64_t b = 0; b < 2; ++b) {
        int64_t last = mixed_lengths[b] - 1;
        double norm = 0;
        for (int64_t d = 0; d < D; ++d) norm += std::fabs(g[(b * 5 + last) * D + d]);
        BOOST_CHECK_MESSAGE(norm > 1e-8, "sequence " << b << ": no gradient reaches its last real input");
        for (int64_t t = mixed_lengths[b]; t < 5; ++t)
            for (int64_t d = 0; d < D; ++d) BOOST_CHECK_EQUAL(g[(b * 5 + t) * D + d], 0.0);  // padding
    }
}

BOOST_AUTO_TEST_CASE(lstm_matches_hand_written_equations) {
    Generator gen(9);
    Recurrent net(CellType::LSTM, 3, 4, 1, gen);
    net.to(DType::Float64);
    Tensor x = input({1, 3, 3}, 10);
    auto& cell = static_cast<LstmCell&>(*net.layers[0]);
    std::vector<double> wi = cell.weight_ih.to_double_vector(), wh = cell.weight_hh.to_double_vector();
    std::vector<double> bi = cell.bias_ih.to_double_vector(), bh = cell.bias_hh.to_double_vector();
    std::vector<double> xv = x.to_double_vector(), h(4, 0.0), c(4, 0.0);
    std::vector<double> outputs = net.forward(x).output.to_double_vector();
    for (int t = 0; t < 3; ++t) {
        std::vector<double> xt(xv.begin() + t * 3, xv.begin() + t * 3 + 3);
        std::vector<double> a = affine(wi, bi, xt, 16), r = affine(wh, bh, h, 16);
        for (int j = 0; j < 4; ++j) {
            double i = sigm(a[j] + r[j]), f = sigm(a[4 + j] + r[4 + j]);
            double g = std::tanh(a[8 + j] + r[8 + j]), o = sigm(a[12 + j] + r[12 + j]);
            c[j] = f * c[j] + i * g;
            h[j] = o * std::tanh(c[j]);
            BOOST_CHECK_CLOSE(outputs[t * 4 + j], h[j], 1e-10);
        }
    }
}

BOOST_AUTO_TEST_CASE(gru_matches_pytorch_equations) {
    Generator gen(11);
    Recurrent net(CellType::GRU, 2, 3, 1, gen);
    net.to(DType::Float64);
    Tensor x = input({1, 3, 2}, 12);
    auto& cell = static_cast<GruCell&>(*net.layers[0]);
    std::vector<double> wi = cell.weight_ih.to_double_vector(), wh = cell.weight_hh.to_double_vector();
    std::vector<double> bi = cell.bias_ih.to_double_vector(), bh = cell.bias_hh.to_double_vector();
    std::vector<double> xv = x.to_double_vector(), h(3, 0.0);
    std::vector<double> outputs = net.forward(x).output.to_double_vector();
    for (int t = 0; t < 3; ++t) {
        std::vector<double> xt(xv.begin() + t * 2, xv.begin() + t * 2 + 2);
        std::vector<double> a = affine(wi, bi, xt, 9), r = affine(wh, bh, h, 9);
        std::vector<double> next(3);
        for (int j = 0; j < 3; ++j) {
            double reset = sigm(a[j] + r[j]), update = sigm(a[3 + j] + r[3 + j]);
            double n = std::tanh(a[6 + j] + reset * r[6 + j]);
            next[j] = (1 - update) * n + update * h[j];
            BOOST_CHECK_CLOSE(outputs[t * 3 + j], next[j], 1e-10);
        }
        h = next;
    }
}

BOOST_AUTO_TEST_CASE(padding_never_changes_real_positions) {
    // Same real data, different padding content: outputs and gradients at real steps agree, and
    // the final state equals the state at the last real token.
    Generator gen(13);
    BiLstm net(3, 4, 2, gen);
    net.to(DType::Float64);
    Tensor real = input({1, 3, 3}, 14);
    Tensor pad_a = concat({real, input({1, 2, 3}, 15)}, 1), pad_b = concat({real, input({1, 2, 3}, 16)}, 1);
    pad_a = pad_a.detach().set_requires_grad();
    pad_b = pad_b.detach().set_requires_grad();
    RecurrentOutput a = net.forward(pad_a, {3}), b = net.forward(pad_b, {3}), alone = net.forward(real.detach());
    std::vector<double> va = a.output.to_double_vector(), vb = b.output.to_double_vector(),
                        v = alone.output.to_double_vector();
    for (int t = 0; t < 5; ++t)
        for (int j = 0; j < 8; ++j) {
            double expected = t < 3 ? v[t * 8 + j] : 0.0;
            BOOST_CHECK_SMALL(va[t * 8 + j] - expected, 1e-12);
            BOOST_CHECK_SMALL(vb[t * 8 + j] - expected, 1e-12);
        }
    std::vector<double> ha = a.last[1].h.to_double_vector(), h = alone.last[1].h.to_double_vector();
    for (size_t j = 0; j < h.size(); ++j) BOOST_CHECK_SMALL(ha[j] - h[j], 1e-12);
    backward(sum(a.output * a.output), {Tensor(), /*keep_tape=*/true});  // b is on the same tape
    backward(sum(b.output * b.output));
    std::vector<double> ga = pad_a.grad().to_double_vector(), gb = pad_b.grad().to_double_vector();
    for (int k = 0; k < 3 * 3; ++k) BOOST_CHECK_SMALL(ga[k] - gb[k], 1e-12);
    for (int k = 9; k < 15; ++k) BOOST_CHECK_EQUAL(ga[k], 0.0);  // padding receives no gradient
}

BOOST_AUTO_TEST_CASE(reverse_within_lengths_is_an_involution) {
    Tensor x = Tensor::arange(10, DType::Float64);
    x = reshape(x, {2, 5, 1});
    std::vector<double> r = reverse_within_lengths(x, {5, 3}).to_double_vector();
    BOOST_CHECK((r == std::vector<double>{4, 3, 2, 1, 0, 7, 6, 5, 8, 9}));
    BOOST_CHECK(reverse_within_lengths(reverse_within_lengths(x, {5, 3}), {5, 3}).to_double_vector() == x.to_double_vector());
}

BOOST_AUTO_TEST_CASE(truncated_bptt_detach_and_errors) {
    Generator gen(17);
    Recurrent net(CellType::LSTM, 2, 3, 1, gen);
    Tensor x = Tensor::randn({2, 4, 2}, gen);
    RecurrentOutput first = net.forward(x);
    backward(sum(first.output));
    RecurrentOutput second = net.forward(x, {}, {detach(first.last[0])});  // carries state, not the graph
    backward(sum(second.output));
    TAPEGRAD_CHECK_ERROR(net.forward(x, {5, 2}), "recurrent", "length 5");
    TAPEGRAD_CHECK_ERROR(net.forward(x, {2}), "recurrent", "1 lengths", "batch of 2");
    TAPEGRAD_CHECK_ERROR(net.forward(Tensor::zeros({2, 4})), "recurrent", "[B, T, D]");
    TAPEGRAD_CHECK_ERROR(net.forward(Tensor::zeros({2, 4, 5})), "recurrent", "5");
}

// A batch of no sequences (B = 0) runs through every sequence model, in both schedules, forward
// and backward, to an empty output of the right shape; an empty sequence (T = 0) is refused.
BOOST_AUTO_TEST_CASE(empty_batch_runs_through_every_model) {
    Generator gen(5);
    Recurrent lstm(CellType::LSTM, 3, 4, 2, gen), gru(CellType::GRU, 3, 4, 1, gen), rnn(CellType::RNN, 3, 4, 1, gen);
    BiLstm bilstm(3, 4, 1, gen);
    QlLstm ql(3, 4, gen);
    PrLstm pr(3, 4, 2, gen);
    TransformerOptions options;
    options.d_model = 8, options.heads = 2, options.layers = 1;
    TransformerEncoder transformer(0, 3, options, gen);
    const Tensor x = Tensor::zeros({0, 5, 3}).set_requires_grad();
    auto check = [&](const char* model, const Tensor& y, const Shape& expected) {
        BOOST_TEST_CONTEXT(model) {
            BOOST_CHECK_EQUAL(to_string(y.shape()), to_string(expected));
            backward(sum(y));
            BOOST_CHECK_EQUAL(to_string(x.grad().shape()), "[0, 5, 3]");
        }
    };
    for (Schedule s : {Schedule::Reference, Schedule::Fast}) {
        BOOST_TEST_CONTEXT((s == Schedule::Fast ? "fast" : "reference") << " schedule") {
            lstm.schedule = gru.schedule = rnn.schedule = bilstm.schedule = ql.schedule = pr.schedule = s;
            check("lstm", lstm.forward(x).output, {0, 5, 4});
            check("gru", gru.forward(x).output, {0, 5, 4});
            check("rnn", rnn.forward(x).output, {0, 5, 4});
            check("bilstm", bilstm.forward(x).output, {0, 5, 8});
            check("ql_lstm", ql.forward(x).output, {0, 5, 4});
            check("pr_lstm", pr.forward(x), {0, 5, 2});
        }
    }
    check("transformer", transformer.forward(x), {0, 5, 8});
    const Tensor no_steps = Tensor::zeros({2, 0, 3});
    TAPEGRAD_CHECK_ERROR(lstm.forward(no_steps), "recurrent", "T = 0");
    TAPEGRAD_CHECK_ERROR(pr.forward(no_steps), "pr_lstm", "n = 0");
    TAPEGRAD_CHECK_ERROR(transformer.forward(no_steps), "transformer", "T = 0");
}
