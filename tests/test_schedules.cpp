// The two schedules of every recurrent model (models/schedule.h): Fast (hoisted input projection,
// RecurrentLinear, gate-major views, PR-LSTM's batched prefix scan) must compute the function the
// Reference writes out equation by equation. In float64, on padded batches of mixed lengths:
// the output, the final states and the gradient of every input and parameter agree to 1e-12 of
// the largest entry of each tensor. Each case also checks that the two runs did take different
// paths on the tape, and that the reference itself passes a finite-difference gradient check.
#define BOOST_TEST_MODULE schedules
#include <algorithm>
#include <cmath>
#include <functional>

#include "models/pr_lstm.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "tests/ql_lstm_ablations.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;
using Inputs = std::vector<Tensor>;

namespace {
constexpr double kTolerance = 1e-12;  // relative to the largest |entry| of the reference's tensor

// One run: the model's outputs, and the gradients of `inputs` then of every parameter, reached
// through a fixed random projection of each output (never a plain sum).
struct Run {
    std::vector<Tensor> outputs, grads;
    std::vector<std::string> ops;  // the op of every record on the tape
};

template <typename Model>
Run run(Model& model, Schedule schedule, const Inputs& inputs,
        const std::function<std::vector<Tensor>(const Model&)>& forward) {
    model.schedule = schedule;
    Inputs leaves = inputs;
    for (const Tensor& p : model.parameters()) leaves.push_back(p);
    for (Tensor& t : leaves) t.zero_grad();
    Tape tape;
    TapeGuard guard(tape);
    Run r;
    r.outputs = forward(model);
    Tensor loss;
    for (size_t k = 0; k < r.outputs.size(); ++k) {
        Generator gen(100 + k);
        Tensor term = sum(r.outputs[k] * Tensor::uniform(r.outputs[k].shape(), -1.0, 1.0, gen, DType::Float64));
        loss = loss.defined() ? loss + term : term;
    }
    for (const Record& record : tape.records()) r.ops.push_back(record.op);
    backward(loss);
    for (const Tensor& t : leaves) r.grads.push_back(t.grad().defined() ? t.grad() : Tensor::zeros(t.shape(), DType::Float64));
    return r;
}

// Every entry of `got` within kTolerance · max|expected| of `expected`, naming the first that is not.
void check_equal(const Tensor& got, const Tensor& expected, const std::string& what) {
    BOOST_REQUIRE_MESSAGE(got.shape() == expected.shape(), what << ": shape " << to_string(got.shape())
                                                                << ", the reference's is " << to_string(expected.shape()));
    const std::vector<double> g = got.to_double_vector(), e = expected.to_double_vector();
    double scale = 0;
    for (double v : e) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < e.size(); ++i)
        if (std::fabs(g[i] - e[i]) > kTolerance * scale) {
            BOOST_ERROR(what << " [" << i << "]: fast " << g[i] << ", reference " << e[i] << " (difference "
                             << std::fabs(g[i] - e[i]) << ", allowed " << kTolerance * scale << ")");
            return;
        }
}

size_t count(const std::vector<std::string>& ops, const std::string& op) {
    return size_t(std::count(ops.begin(), ops.end(), op));
}

// Reference against Fast on one model; `inputs` are the leaves (x, initial states) whose
// gradients are compared besides the parameters'. Returns the two runs' tapes for further checks.
template <typename Model>
std::pair<Run, Run> check_schedules(Model& model, const Inputs& inputs,
                                    const std::function<std::vector<Tensor>(const Model&)>& forward) {
    model.to(DType::Float64);
    Run reference = run(model, Schedule::Reference, inputs, forward);
    Run fast = run(model, Schedule::Fast, inputs, forward);
    for (size_t k = 0; k < reference.outputs.size(); ++k)
        check_equal(fast.outputs[k], reference.outputs[k], "output " + std::to_string(k));
    const auto names = model.named_parameters();
    for (size_t i = 0; i < reference.grads.size(); ++i) {
        const std::string what = i < inputs.size() ? "gradient of input " + std::to_string(i)
                                                   : "gradient of " + names[i - inputs.size()].first;
        check_equal(fast.grads[i], reference.grads[i], what);
    }
    BOOST_CHECK_GT(reference.grads.size(), inputs.size());
    return {reference, fast};
}

// The recurrent cells' reference uses no RecurrentLinear; the fast schedule one per layer and step.
void check_paths_differ(const std::pair<Run, Run>& runs) {
    BOOST_CHECK_EQUAL(count(runs.first.ops, "recurrent_linear"), 0u);
    BOOST_CHECK_EQUAL(count(runs.first.ops, "recurrent_weight"), 0u);
    BOOST_CHECK_GT(count(runs.second.ops, "recurrent_linear"), 0u);
}

// The reference's own gradient check (finite differences through a random projection).
template <typename Model>
void check_reference_gradient(Model& model, const Inputs& inputs, const std::function<Tensor(const Model&)>& forward) {
    model.schedule = Schedule::Reference;
    Inputs all = inputs;
    for (const Tensor& p : model.parameters()) all.push_back(p);
    TAPEGRAD_CHECK_GRADIENT([&](const Inputs&) { return forward(model); }, all);
    model.schedule = Schedule::Fast;
}

const std::vector<int64_t> kLengths = {6, 4, 1};  // B = 3, T = 6: two sequences padded
}  // namespace

BOOST_AUTO_TEST_CASE(fast_is_the_default) {
    Generator gen(1);
    BOOST_CHECK(Recurrent(CellType::LSTM, 2, 3, 1, gen).schedule == Schedule::Fast);
    BOOST_CHECK(BiLstm(2, 3, 1, gen).schedule == Schedule::Fast);
    BOOST_CHECK(QlLstm(2, 3, gen).schedule == Schedule::Fast);
    BOOST_CHECK(PrLstm(2, 3, 2, gen).schedule == Schedule::Fast);
}

// RNN, LSTM and GRU, one and two layers, padded, with initial states: output, every layer's
// final state, and the gradients of x, h_0 (and c_0) and every parameter.
BOOST_AUTO_TEST_CASE(rnn_lstm_gru_fast_equals_reference) {
    for (CellType type : {CellType::RNN, CellType::LSTM, CellType::GRU})
        for (int64_t layers : {1, 2}) {
            BOOST_TEST_CONTEXT("cell " << int(type) << ", " << layers << " layers") {
                Generator gen(10 + layers);
                Recurrent net(type, 3, 4, layers, gen, /*forget_bias=*/type == CellType::LSTM ? 1.0 : 0.0);
                Tensor x = input({3, 6, 3}, 20), h0 = input({3, 4}, 21), c0 = input({3, 4}, 22);
                const bool lstm = type == CellType::LSTM;
                Inputs inputs = lstm ? Inputs{x, h0, c0} : Inputs{x, h0};
                auto forward = [&](const Recurrent& m) {
                    std::vector<RecurrentState> initial;
                    for (int64_t l = 0; l < layers; ++l) initial.push_back({h0 * double(l + 1), lstm ? c0 * double(l + 1) : Tensor()});
                    RecurrentOutput out = m.forward(x, kLengths, initial);
                    std::vector<Tensor> outputs = {out.output};
                    for (const RecurrentState& s : out.last) {
                        outputs.push_back(s.h);
                        if (lstm) outputs.push_back(s.c);
                    }
                    return outputs;
                };
                check_paths_differ(check_schedules<Recurrent>(net, inputs, forward));
                // Without lengths or initial states too (the unpadded loop, zero initial states).
                check_schedules<Recurrent>(net, {x}, [&](const Recurrent& m) {
                    RecurrentOutput out = m.forward(x);
                    return std::vector<Tensor>{out.output, out.last.back().h};
                });
                check_reference_gradient<Recurrent>(net, inputs, [&](const Recurrent& m) { return forward(m)[0]; });
            }
        }
}

BOOST_AUTO_TEST_CASE(bilstm_fast_equals_reference) {
    for (int64_t layers : {1, 2}) {
        BOOST_TEST_CONTEXT(layers << " layers") {
            Generator gen(30 + layers);
            BiLstm net(3, 4, layers, gen);
            Tensor x = input({3, 6, 3}, 31);
            auto forward = [&](const BiLstm& m) {
                RecurrentOutput out = m.forward(x, kLengths);
                std::vector<Tensor> outputs = {out.output};
                for (const RecurrentState& s : out.last) {
                    outputs.push_back(s.h);
                    outputs.push_back(s.c);
                }
                return outputs;
            };
            check_paths_differ(check_schedules<BiLstm>(net, {x}, forward));
            check_reference_gradient<BiLstm>(net, {x}, [&](const BiLstm& m) { return forward(m)[0]; });
        }
    }
}

// Every QL-LSTM ablation; blocks that do and do not divide T, sequences that end blocks at
// different steps (the skip masked per sequence), and an initial state.
BOOST_AUTO_TEST_CASE(ql_lstm_fast_equals_reference) {
    QlLstmOptions standard;
    standard.block_size = 2;
    QlLstmOptions not_dividing = standard;
    not_dividing.block_size = 4;
    std::vector<QlLstmOptions> variants = {standard, not_dividing};
    for (const QlLstmOptions& o : tapegrad::testing::ql_lstm_ablations()) variants.push_back(o);
    int variant = 0;
    for (const QlLstmOptions& o : variants) {
        BOOST_TEST_CONTEXT("variant " << variant) {
            Generator gen(40 + variant++);
            QlLstm net(3, 4, gen, o);
            Tensor x = input({3, 6, 3}, 41), h0 = input({3, 4}, 42), c0 = input({3, 4}, 43);
            auto forward = [&](const QlLstm& m) {
                RecurrentOutput out = m.forward(x, kLengths, {h0, c0});
                return std::vector<Tensor>{out.output, out.last[0].h, out.last[0].c};
            };
            check_paths_differ(check_schedules<QlLstm>(net, {x, h0, c0}, forward));
            check_schedules<QlLstm>(net, {x}, [&](const QlLstm& m) {
                RecurrentOutput out = m.forward(x);  // every sequence ends every block together
                return std::vector<Tensor>{out.output, out.last[0].c};
            });
            check_reference_gradient<QlLstm>(net, {x, h0, c0}, [&](const QlLstm& m) { return forward(m)[0]; });
        }
    }
}

// PR-LSTM (R = 0, 1, 2) and PR-RNN at every bracket pattern of n = 1 .. 11 and at n = 37: the
// logits of every prefix and all gradients. (PR-LSTM has no lengths: a prefix never reads a later
// token, tests/test_pr_lstm.cpp.)
BOOST_AUTO_TEST_CASE(pr_lstm_fast_equals_reference) {
    struct Variant {
        int64_t refinements;
        PrCell cell;
    };
    for (Variant v : {Variant{1, PrCell::LSTM}, Variant{0, PrCell::LSTM}, Variant{2, PrCell::LSTM}, Variant{1, PrCell::RNN}})
        for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 37}) {
            BOOST_TEST_CONTEXT("R " << v.refinements << " cell " << int(v.cell) << " n " << n) {
                Generator gen(50 + n);
                PrLstm model(3, 4, 2, gen, v.refinements, v.cell);
                model.to(DType::Float64);
                // Non-zero biases, so that no PR-RNN relu sits exactly at its kink.
                for (auto& [name, slot] : model.parameter_slots())
                    if (name.find("bias") != std::string::npos)
                        *slot = Tensor::uniform(slot->shape(), -0.5, 0.5, gen, DType::Float64).set_requires_grad();
                Tensor x = input({2, n, 3}, 60 + n);
                auto forward = [&](const PrLstm& m) {
                    PrStates p = m.prefix_states(x);
                    std::vector<Tensor> outputs = {m.forward(x), p.h};
                    if (p.c.defined()) outputs.push_back(p.c);
                    return outputs;
                };
                check_schedules<PrLstm>(model, {x}, forward);
                // The batched schedule groups prefixes; the reference folds each prefix alone.
                model.schedule = Schedule::Reference;
                model.prefix_states(x);
                const int64_t reference_calls = model.merge_calls();
                model.schedule = Schedule::Fast;
                model.prefix_states(x);
                if (n >= 5) BOOST_CHECK_GT(reference_calls, model.merge_calls());
                if (n == 5 || n == 11)
                    check_reference_gradient<PrLstm>(model, {x}, [&](const PrLstm& m) { return m.forward(x); });
            }
        }
}
