// PR-LSTM: the batched two-phase schedule against the closed form (the reference schedule),
// gradients through every bracket pattern, causality under right-padding, merge calls and
// parameter counts.
#define BOOST_TEST_MODULE pr_lstm
#include <cmath>

#include "models/pr_lstm.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;
using Inputs = std::vector<Tensor>;

namespace {
// One-hot inputs [B, n, V+1] from a seed.
Tensor one_hot_batch(int64_t batch, int64_t n, int64_t width, uint64_t seed) {
    Generator gen(seed);
    std::vector<double> v(batch * n * width, 0.0);
    for (int64_t i = 0; i < batch * n; ++i) v[i * width + int64_t(philox_uniform(seed, i) * width)] = 1.0;
    return Tensor::from_vector(v, {batch, n, width});
}

// Position i (along axis 1) of a batch of states [B, n, H].
PrStates position(const PrStates& s, int64_t i) {
    Tensor index = Tensor::from_vector(std::vector<int64_t>{i}, {1});
    return {index_select(s.h, 1, index), s.c.defined() ? index_select(s.c, 1, index) : Tensor()};
}
}  // namespace

// Batched merge calls of JAX's recursion (notes §2.4): an up-sweep call at every level with
// n_k >= 2 and a down-sweep call at every level with ceil(n_k / 2) - 1 >= 1 (n_{k+1} = n_k / 2).
int64_t jax_merge_calls(int64_t n) {
    int64_t calls = 0;
    for (int64_t m = n; m >= 2; m /= 2) calls += 1 + ((m + 1) / 2 - 1 >= 1 ? 1 : 0);
    return calls;
}

// got [B, n, H] against the first n positions of expected [B, total, H].
double max_difference(const std::vector<double>& got, const std::vector<double>& expected, int64_t n, int64_t total,
                      int64_t batch, int64_t hidden) {
    double worst = 0;
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = 0; t < n; ++t)
            for (int64_t j = 0; j < hidden; ++j)
                worst = std::max(worst, std::fabs(got[(b * n + t) * hidden + j] - expected[(b * total + t) * hidden + j]));
    return worst;
}

// h and c of every prefix, for PR-LSTM with R = 0, 1, 2 and PR-RNN, against the closed form (the
// model's reference schedule, each prefix folded on its own, on all 70 positions: the batched
// schedule on the first n positions must give the same prefixes); and the number of batched
// merge calls against JAX's recursion.
BOOST_AUTO_TEST_CASE(batched_schedule_matches_closed_form_for_n_1_to_70) {
    struct Variant {
        int64_t refinements;
        PrCell cell;
    };
    for (Variant v : {Variant{1, PrCell::LSTM}, Variant{0, PrCell::LSTM}, Variant{2, PrCell::LSTM}, Variant{1, PrCell::RNN}}) {
        BOOST_TEST_CONTEXT("R " << v.refinements << " cell " << int(v.cell)) {
            Generator gen(1);
            PrLstm model(3, 3, 2, gen, v.refinements, v.cell);
            model.to(DType::Float64);
            NoGrad no_grad;
            Tensor x = one_hot_batch(2, 70, 3, 2);
            model.schedule = Schedule::Reference;
            PrStates expected = model.prefix_states(x);  // [B, 70, H]
            std::vector<double> expected_h = expected.h.to_double_vector(), expected_c;
            if (v.cell == PrCell::LSTM) expected_c = expected.c.to_double_vector();
            model.schedule = Schedule::Fast;
            for (int64_t n = 1; n <= 70; ++n) {
                PrStates got = model.prefix_states(slice(x, 1, 0, n));  // [B, n, H]
                double dh = max_difference(got.h.to_double_vector(), expected_h, n, 70, 2, 3);
                BOOST_CHECK_MESSAGE(dh < 1e-13, "n = " << n << ": h differs by " << dh);
                if (v.cell == PrCell::LSTM) {
                    double dc = max_difference(got.c.to_double_vector(), expected_c, n, 70, 2, 3);
                    BOOST_CHECK_MESSAGE(dc < 1e-13, "n = " << n << ": c differs by " << dc);
                }
                BOOST_CHECK_MESSAGE(model.merge_calls() == jax_merge_calls(n),
                                    "n = " << n << ": " << model.merge_calls() << " batched merge calls, JAX makes "
                                           << jax_merge_calls(n));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(merge_is_not_associative) {
    Generator gen(3);
    PrLstm model(3, 3, 2, gen);
    model.to(DType::Float64);
    NoGrad no_grad;
    PrStates leaves = model.leaves(one_hot_batch(1, 3, 3, 4));
    PrStates a = position(leaves, 0), b = position(leaves, 1), c = position(leaves, 2);
    std::vector<double> left_first = model.merge(model.merge(a, b), c).h.to_double_vector();
    std::vector<double> right_first = model.merge(a, model.merge(b, c)).h.to_double_vector();
    double worst = 0;
    for (size_t i = 0; i < left_first.size(); ++i) worst = std::max(worst, std::fabs(left_first[i] - right_first[i]));
    BOOST_CHECK_GT(worst, 1e-3);
}

// Merge calls at the benchmark's lengths: about 2 log2 n, whatever the batch size.
BOOST_AUTO_TEST_CASE(merge_calls_at_benchmark_lengths) {
    Generator gen(5);
    PrLstm model(3, 2, 2, gen);
    NoGrad no_grad;
    model.forward(Tensor::zeros({3, 40, 3}));
    BOOST_CHECK_EQUAL(model.merge_calls(), 9);
    model.forward(Tensor::zeros({1, 500, 3}));
    BOOST_CHECK_EQUAL(model.merge_calls(), 16);
}

BOOST_AUTO_TEST_CASE(gradient_through_every_bracket_pattern) {
    struct Variant {
        int64_t refinements;
        PrCell cell;
        std::vector<int64_t> lengths;
    };
    const std::vector<int64_t> all = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    std::vector<Variant> variants = {{1, PrCell::LSTM, all}, {0, PrCell::LSTM, all}, {2, PrCell::LSTM, all},
                                     {0, PrCell::RNN, all},  {1, PrCell::RNN, all},  {2, PrCell::RNN, all}};
    for (const Variant& v : variants)
        for (int64_t n : v.lengths) {
            BOOST_TEST_CONTEXT("R " << v.refinements << " cell " << int(v.cell) << " n " << n) {
                Generator gen(10 + n);
                PrLstm model(3, 2, 2, gen, v.refinements, v.cell);
                model.to(DType::Float64);
                // Non-zero biases: with haiku's zero biases, a PR-RNN node whose relu outputs are all
                // zero feeds exactly 0 into the next relu, a kink finite differences cannot cross.
                for (auto& [name, slot] : model.parameter_slots())
                    if (name.find("bias") != std::string::npos)
                        *slot = Tensor::uniform(slot->shape(), -0.5, 0.5, gen, DType::Float64).set_requires_grad();
                Tensor x = input({2, n, 3}, 20 + n);  // dense inputs exercise the leaf weights fully
                Inputs all = {x};
                for (const Tensor& p : model.parameters()) all.push_back(p);
                TAPEGRAD_CHECK_GRADIENT([&](const Inputs&) { return model.forward(x); }, all);
            }
        }
}

BOOST_AUTO_TEST_CASE(right_padding_never_changes_real_positions) {
    Generator gen(30);
    PrLstm model(4, 3, 2, gen);
    model.to(DType::Float64);
    NoGrad no_grad;
    Tensor x = one_hot_batch(3, 13, 4, 31);
    std::vector<double> full = model.forward(x).to_double_vector();
    for (int64_t n : {1, 5, 8, 12}) {
        std::vector<double> part = model.forward(slice(x, 1, 0, n)).to_double_vector();
        for (int64_t b = 0; b < 3; ++b)
            for (int64_t t = 0; t < n; ++t)
                for (int64_t o = 0; o < 2; ++o)
                    BOOST_CHECK_SMALL(part[(b * n + t) * 2 + o] - full[(b * 13 + t) * 2 + o], 1e-13);
    }
}

BOOST_AUTO_TEST_CASE(parameter_names_and_counts) {
    Generator gen(40);
    PrLstm model(3, 256, 2, gen);
    BOOST_CHECK_EQUAL(model.num_parameters(), 923394);  // parity_check, 1R: docs/PR-LSTM.md "Equations"
    BOOST_CHECK_EQUAL(PrLstm(3, 256, 2, gen, 0).num_parameters(), 660226);
    BOOST_CHECK_EQUAL(PrLstm(3, 256, 2, gen, 2).num_parameters(), 1186562);
    BOOST_CHECK_EQUAL(PrLstm(3, 137, 2, gen).num_parameters(), 265919);
    std::vector<std::string> names;
    for (auto& [name, t] : model.named_parameters()) names.push_back(name);
    BOOST_CHECK((names == std::vector<std::string>{"leaf.weight", "leaf.bias", "merge.weight", "merge.bias",
                                                   "refine.0.weight", "refine.0.bias", "readout.weight", "readout.bias"}));
    BOOST_CHECK(model.merge_block.weight.shape() == (Shape{5 * 256, 2 * 256}));
    // haiku init: weights within ±2/sqrt(fan_in), biases zero.
    for (float w : model.merge_block.weight.to_vector<float>()) BOOST_REQUIRE(std::fabs(w) <= 2.0f / 16.0f + 1e-6f);
    for (float b : model.merge_block.bias.to_vector<float>()) BOOST_REQUIRE(b == 0.0f);
    TAPEGRAD_CHECK_ERROR(model.forward(Tensor::zeros({2, 5, 4})), "pr_lstm", "[B, n, 3]");
}
