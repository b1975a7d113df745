// PR-LSTM: the batched two-phase schedule against a slow closed-form reference, gradients through
// every bracket pattern, causality under right-padding, merge calls and parameter counts.
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

// The slow reference: each prefix on its own, by the closed form of pr-lstm-notes.md §2.4.
struct Reference {
    const PrLstm& model;
    PrStates leaves;  // [B, n, H]
    PrStates position(int64_t i) const {
        Tensor index = Tensor::from_vector(std::vector<int64_t>{i}, {1});
        return {index_select(leaves.h, 1, index), leaves.c.defined() ? index_select(leaves.c, 1, index) : Tensor()};
    }
    // The perfect balanced tree over positions [start, start + size).
    PrStates block(int64_t start, int64_t size) const {
        if (size == 1) return position(start);
        return model.merge(block(start, size / 2), block(start + size / 2, size / 2));
    }
    // P[t] = M(...M(M(D1, D2), D3)..., Dk), blocks from the binary digits of t+1, largest first.
    PrStates prefix(int64_t t) const {
        PrStates acc;
        int64_t start = 0;
        for (int bit = 62; bit >= 0; --bit) {
            int64_t size = int64_t(1) << bit;
            if (!((t + 1) & size)) continue;
            PrStates d = block(start, size);
            acc = acc.h.defined() ? model.merge(acc, d) : d;
            start += size;
        }
        return acc;
    }
};
}  // namespace

BOOST_AUTO_TEST_CASE(batched_schedule_matches_closed_form_for_n_1_to_70) {
    Generator gen(1);
    PrLstm model(3, 3, 2, gen);
    model.to(DType::Float64);
    NoGrad no_grad;
    Tensor x = one_hot_batch(2, 70, 3, 2);
    Reference ref{model, model.leaves(x)};
    std::vector<std::vector<double>> expected;
    for (int64_t t = 0; t < 70; ++t) expected.push_back(ref.prefix(t).h.to_double_vector());  // [B, 1, H]
    for (int64_t n = 1; n <= 70; ++n) {
        std::vector<double> got = model.prefix_states(slice(x, 1, 0, n)).h.to_double_vector();  // [B, n, H]
        double worst = 0;
        for (int64_t b = 0; b < 2; ++b)
            for (int64_t t = 0; t < n; ++t)
                for (int64_t j = 0; j < 3; ++j)
                    worst = std::max(worst, std::fabs(got[(b * n + t) * 3 + j] - expected[t][b * 3 + j]));
        BOOST_CHECK_MESSAGE(worst < 1e-13, "n = " << n << ": max difference " << worst);
        // About 2 log2 n batched merges: floor(log2 n) block levels plus one call per prefix group.
        int64_t levels = 0;
        while ((int64_t(2) << levels) <= n) ++levels;
        BOOST_CHECK_LE(model.merge_calls(), 2 * levels);
    }
}

BOOST_AUTO_TEST_CASE(gradient_through_every_bracket_pattern) {
    struct Variant {
        int64_t refinements;
        PrCell cell;
        std::vector<int64_t> lengths;
    };
    std::vector<Variant> variants = {{1, PrCell::LSTM, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
                                     {0, PrCell::LSTM, {5, 11}},
                                     {2, PrCell::LSTM, {6, 11}},
                                     {1, PrCell::RNN, {7, 11}}};
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
    BOOST_CHECK_EQUAL(model.num_parameters(), 923394);  // pr-lstm-notes.md §2.6, parity_check, 1R
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
