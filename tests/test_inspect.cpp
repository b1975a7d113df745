#define BOOST_TEST_MODULE inspect
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "autograd/anomaly.h"
#include "autograd/dot_export.h"
#include "autograd/grad_flow.h"
#include "autograd/stepper.h"
#include "autograd/tape_print.h"
#include "models/layers.h"
#include "models/pr_lstm.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "models/transformer.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;

namespace {
Tensor leaf(const std::vector<double>& values, const Shape& shape) {
    Tensor t = Tensor::from_vector(values, shape);
    t.set_requires_grad();
    return t;
}

std::string read_golden(const std::string& name) {
    std::string path = std::string(__FILE__).substr(0, std::string(__FILE__).rfind('/')) + "/golden/" + name;
    std::ifstream in(path);
    BOOST_REQUIRE_MESSAGE(in, "cannot open golden file " << path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// A small MLP-like graph with a tensor used twice and broadcasting: loss = mean(σ(x W + b) ⊙ x W).
Tensor mlp_loss(const Tensor& x, const Tensor& w, const Tensor& b) {
    NameScope net("net");
    Tensor z = matmul(x, w);
    Tensor a;
    {
        NameScope layer("t=0");
        a = sigmoid(z + b);
    }
    return mean(a * z);
}
}  // namespace

BOOST_AUTO_TEST_CASE(stepper_gradients_equal_backward) {
    Tensor x = input({3, 4}, 1), w = input({4, 2}, 2), b = input({2}, 3);
    Tape tape;
    TapeGuard guard(tape);
    backward(mlp_loss(x, w, b));
    std::vector<std::vector<double>> expected = {x.grad().to_double_vector(), w.grad().to_double_vector(),
                                                 b.grad().to_double_vector()};
    x.zero_grad(), w.zero_grad(), b.zero_grad();

    Tensor loss = mlp_loss(x, w, b);
    BackwardStepper stepper(loss);
    std::vector<std::string> ops;
    while (!stepper.done()) ops.push_back(stepper.step().op);
    stepper.finish();
    BOOST_CHECK(x.grad().to_double_vector() == expected[0]);  // bit for bit, not approximately
    BOOST_CHECK(w.grad().to_double_vector() == expected[1]);
    BOOST_CHECK(b.grad().to_double_vector() == expected[2]);
    std::vector<std::string> expected_ops = {"mean", "mul", "sigmoid", "add", "matmul"};
    BOOST_CHECK_EQUAL_COLLECTIONS(ops.begin(), ops.end(), expected_ops.begin(), expected_ops.end());
}

BOOST_AUTO_TEST_CASE(stepper_shows_each_step) {
    Tape tape;
    TapeGuard guard(tape);
    Tensor x = leaf({0.5, -1.0}, {2});
    Tensor y = sigmoid(x);
    Tensor loss = sum(y * y);  // dL/dy = 2y, dL/dx = 2y · y(1 - y)
    BackwardStepper stepper(loss);
    BOOST_CHECK_EQUAL(stepper.next(), 2);
    stepper.run_to(int64_t(0));  // runs sum and mul
    BOOST_CHECK_EQUAL(stepper.last().op, "mul");
    BOOST_CHECK_EQUAL(stepper.next(), 0);
    const BackwardStep& s = stepper.step();
    BOOST_CHECK_EQUAL(s.op, "sigmoid");
    BOOST_CHECK_EQUAL(s.formula, "dL/dx += dL/dy ⊙ y ⊙ (1 − y)");
    std::vector<double> yv = y.to_double_vector(), gy = s.grad_output.to_double_vector(),
                        added = s.added[0].to_double_vector();
    for (size_t k = 0; k < 2; ++k) {
        BOOST_CHECK_CLOSE(gy[k], 2 * yv[k], 1e-12);
        BOOST_CHECK_CLOSE(added[k], 2 * yv[k] * yv[k] * (1 - yv[k]), 1e-12);
    }
    BOOST_CHECK(stepper.done());
    stepper.finish();
    BOOST_CHECK(x.grad().to_double_vector() == added);
}

BOOST_AUTO_TEST_CASE(stepper_runs_to_scope) {
    Tensor x = input({3, 4}, 1), w = input({4, 2}, 2), b = input({2}, 3);
    Tape tape;
    TapeGuard guard(tape);
    BackwardStepper stepper(mlp_loss(x, w, b));
    stepper.run_to(std::string("net/t=0"));
    BOOST_CHECK_EQUAL(stepper.pass().record(stepper.next()).op, "sigmoid");
    stepper.finish();
    BOOST_CHECK(w.grad().defined());
}

BOOST_AUTO_TEST_CASE(stepper_run_to_unknown_scope_names_the_nearest) {
    Tensor x = input({3, 4}, 1), w = input({4, 2}, 2), b = input({2}, 3);
    Tape tape;
    TapeGuard guard(tape);
    BackwardStepper stepper(mlp_loss(x, w, b));  // scopes: net (mean, mul), net/t=0 (sigmoid, add), net (matmul)
    const int64_t start = stepper.next();
    TAPEGRAD_CHECK_ERROR(stepper.run_to(std::string("net/t=1")), "run_to('net/t=1')", "nearest: 'net/t=0'",
                         "the scopes still to run, from the next record back: 'net', 'net/t=0'");
    BOOST_CHECK_EQUAL(stepper.next(), start);  // nothing ran
    TAPEGRAD_CHECK_ERROR(stepper.run_to(std::string("nte")), "nearest: 'net'");
    // A scope backward has passed is no longer ahead: an error too, not a run to the end.
    stepper.run_to(std::string("net/t=0"));
    stepper.run_to(std::string("net/"));  // the same records: nothing to step over
    while (stepper.pass().record(stepper.next()).scope == "net/t=0") stepper.step();
    TAPEGRAD_CHECK_ERROR(stepper.run_to(std::string("net/t=0")), "no record still to run", "nearest: 'net'");
    BOOST_CHECK_EQUAL(stepper.pass().record(stepper.next()).op, "matmul");
    stepper.finish();
    TAPEGRAD_CHECK_ERROR(stepper.run_to(std::string("net")), "every record has run");
}

// loss = sum(tanh(a ⊙ b)) with a = [1, -2], b = [3, 0.5]: c = a ⊙ b = [3, -1], d = tanh c =
// [0.99505, -0.76159], loss = 0.23346; dL/dc = 1 - d² = [0.0098660, 0.41997] (retained),
// dL/da = dL/dc ⊙ b = [0.029598, 0.20999], dL/db = dL/dc ⊙ a = [0.0098660, -0.83995].
struct FixedGraph {
    Tape tape;
    Tensor a = leaf({1.0, -2.0}, {2}), b = leaf({3.0, 0.5}, {2});
    FixedGraph() {
        TapeGuard guard(tape);
        NameScope expr("expr");
        Tensor c = a * b;
        c.retain_grad();
        Tensor d;
        {
            NameScope step("t=1");
            d = tanh(c);
        }
        backward(sum(d), {Tensor(), /*keep_tape=*/true});
    }
};

BOOST_AUTO_TEST_CASE(tape_printout_matches_golden) {
    FixedGraph graph;
    BOOST_CHECK_EQUAL(format_tape(graph.tape), read_golden("tape_print.txt"));
    BOOST_CHECK_EQUAL(format_tape(graph.tape, "expr/t=1"), read_golden("tape_print_t1.txt"));
}

BOOST_AUTO_TEST_CASE(retain_grads_keeps_every_gradient_for_the_printout) {
    // The FixedGraph's numbers, with every record's gradient kept: dL/dd = 1, dL/dc = 1 - d².
    Tape tape;
    TapeGuard guard(tape);
    Tensor a = leaf({1.0, -2.0}, {2}), b = leaf({3.0, 0.5}, {2});
    Tensor c = a * b, d = tanh(c), loss = sum(d);
    backward(loss, {Tensor(), /*keep_tape=*/true, /*retain_grads=*/true});
    BOOST_CHECK(d.grad().to_double_vector() == (std::vector<double>{1.0, 1.0}));
    std::vector<double> gc = c.grad().to_double_vector();
    BOOST_CHECK_CLOSE(gc[0], 1 - std::tanh(3.0) * std::tanh(3.0), 1e-12);
    BOOST_CHECK_CLOSE(gc[1], 1 - std::tanh(-1.0) * std::tanh(-1.0), 1e-12);
    const std::string printout = format_tape(tape);
    BOOST_CHECK(printout.find("tanh") != std::string::npos &&
                printout.find("grad min 1 mean 1 max 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(dot_export_matches_golden) {
    FixedGraph graph;
    BOOST_CHECK_EQUAL(to_dot(graph.tape, {.scope_prefix = "", .names = {{graph.a, "a"}, {graph.b, "b"}}}),
                      read_golden("tape.dot"));
    BOOST_CHECK_EQUAL(step_cluster("lstm/t=3/forget_gate"), "lstm/t=3");
    BOOST_CHECK_EQUAL(step_cluster("prlstm/level=2/node=1"), "prlstm/level=2");
    BOOST_CHECK_EQUAL(step_cluster("mlp/layer1"), "");
}

BOOST_AUTO_TEST_CASE(anomaly_forward_log_of_negative) {
    Tape tape;
    TapeGuard guard(tape);
    Tensor x = leaf({-1.0, 2.0}, {2});
    DetectAnomaly anomaly;
    NameScope net("net");
    Tensor y = x * 2.0;
    TAPEGRAD_CHECK_ERROR(log(y - 1.0), "forward of op 'log'", "tape #2", "scope 'net'", "1 NaN", "output");
}

BOOST_AUTO_TEST_CASE(anomaly_forward_zero_over_zero) {
    Tape tape;
    TapeGuard guard(tape);
    Tensor x = leaf({0.0, 1.0}, {2});
    DetectAnomaly anomaly;
    TAPEGRAD_CHECK_ERROR(x / x, "forward of op 'div'", "tape #0", "1 NaN, 0 Inf");
}

BOOST_AUTO_TEST_CASE(anomaly_backward_log_at_zero) {
    // log(0) = -inf and exp(-inf) = 0 are allowed in the forward pass (anomaly off). Backward:
    // exp hands log dL/dy ⊙ y = 0, and log's rule dL/dy / x is then 0 / 0 = NaN.
    Tape tape;
    TapeGuard guard(tape);
    Tensor x = leaf({0.0, 1.0}, {2});
    Tensor loss;
    {
        NameScope scope("loss");
        loss = sum(exp(log(x)));
    }
    DetectAnomaly anomaly;
    TAPEGRAD_CHECK_ERROR(backward(loss), "backward of op 'log'", "tape #0", "scope 'loss'", "1 NaN, 0 Inf",
                         "gradient of input 0");
}

BOOST_AUTO_TEST_CASE(anomaly_backward_log_of_negative) {
    // y = log(x) is NaN at x = -1, so the gradient of w in y ⊙ w is NaN: the mul is named.
    Tape tape;
    TapeGuard guard(tape);
    Tensor x = leaf({-1.0, 1.0}, {2}), w = leaf({2.0, 3.0}, {2});
    Tensor loss = sum(log(x) * w);
    DetectAnomaly anomaly;
    TAPEGRAD_CHECK_ERROR(backward(loss), "backward of op 'mul'", "tape #1", "1 NaN", "gradient of input 1");
}

BOOST_AUTO_TEST_CASE(anomaly_backward_zero_over_zero) {
    // sqrt's backward at x = 0 with dL/dy = 0 computes 0 / (2 · 0) = NaN.
    Tape tape;
    TapeGuard guard(tape);
    Tensor x = leaf({0.0, 4.0}, {2});
    Tensor loss = sum(sqrt(x) * 0.0);
    DetectAnomaly anomaly;
    TAPEGRAD_CHECK_ERROR(backward(loss), "backward of op 'sqrt'", "tape #0", "1 NaN", "gradient of input 0");
}

BOOST_AUTO_TEST_CASE(anomaly_off_by_default) {
    Tape tape;
    TapeGuard guard(tape);
    BOOST_CHECK(!anomaly_detection_enabled());
    Tensor x = leaf({-1.0, 1.0}, {2});
    Tensor loss = sum(log(x));
    BOOST_CHECK_NO_THROW(backward(loss));
    {
        DetectAnomaly on;
        DetectAnomaly off(false);
        BOOST_CHECK(!anomaly_detection_enabled());
    }
    BOOST_CHECK(!anomaly_detection_enabled());
}

// ---- gradient flow ---------------------------------------------------------------------------

namespace {
// One float64 LSTM layer under NameScope("lstm"), x [2, 6, 3], H = 4;
// L = Σ_b Σ_j h_{T-1}[b, j] w[j] with w = [1, -2, 0.5, 3].
struct SmallLstm {
    Generator gen{11};
    Recurrent lstm{CellType::LSTM, 3, 4, 1, gen};
    Tensor x, w = Tensor::from_vector(std::vector<double>{1.0, -2.0, 0.5, 3.0}, {1, 4});
    SmallLstm() {
        lstm.to(DType::Float64);
        x = Tensor::randn({2, 6, 3}, gen, DType::Float64);
    }
    Tensor loss() const {
        NameScope scope("lstm");
        return sum(lstm.forward(x).last[0].h * w);
    }
};
}  // namespace

BOOST_AUTO_TEST_CASE(grad_flow_lstm_equals_retained_gradients) {
    SmallLstm model;
    Tape tape;
    TapeGuard guard(tape);
    Tensor loss = model.loss();
    std::vector<GradFlowSeries> series = labelled_states(tape, "lstm/layer0/", {"h", "c"});
    BOOST_REQUIRE_EQUAL(series.size(), 2u);
    BOOST_REQUIRE_EQUAL(series[0].states.size(), 6u);
    BOOST_CHECK_EQUAL(series[0].steps[3], "t=3");
    GradFlowReport report = gradient_flow(loss, series);

    // The same model unrolled here by hand through the cell's public fast step (the model's
    // schedule), its states retained: the report must have found these very states (same values)
    // and their gradients.
    const LstmCell& cell = static_cast<const LstmCell&>(*model.lstm.layers[0]);
    Hoisted hoisted = cell.hoist(transpose(model.x, 0, 1));  // A [T, B, 4H] and the recurrent product
    RecurrentState state{Tensor::zeros({2, 4}, DType::Float64), Tensor::zeros({2, 4}, DType::Float64)};
    const std::vector<int64_t> lengths = {6, 6};
    std::vector<RecurrentState> states;
    for (int64_t t = 0; t < 6; ++t) {
        state = cell.fast_step(hoisted, state, {t, lengths, Tensor()});
        state.h.retain_grad();
        state.c.retain_grad();
        states.push_back(state);
    }
    backward(sum(state.h * model.w));
    for (size_t t = 0; t < 6; ++t) {
        BOOST_TEST_CONTEXT("t = " << t) {
            BOOST_CHECK(series[0].states[t].to_double_vector() == states[t].h.to_double_vector());
            BOOST_CHECK(series[1].states[t].to_double_vector() == states[t].c.to_double_vector());
            BOOST_CHECK_CLOSE(report.norms[0][t], norm(states[t].h.grad()).item(), 1e-10);
            BOOST_CHECK_CLOSE(report.norms[1][t], norm(states[t].c.grad()).item(), 1e-10);
            BOOST_CHECK_GT(report.norms[0][t], 0.0);
        }
    }
    // dL/dh_5 = w on each of the 2 rows: ‖·‖ = sqrt(2 (1 + 4 + 0.25 + 9)).
    BOOST_CHECK_CLOSE(report.norms[0][5], std::sqrt(2 * 14.25), 1e-12);
}

namespace {
// A float64 PR-LSTM (R = 1) over 6 one-hot leaves; L = Σ logits[:, position] ⊙ a fixed projection.
struct SmallPrLstm {
    Generator gen{5};
    PrLstm net{4, 3, 2, gen, 1};
    Tensor x;
    SmallPrLstm() {
        net.to(DType::Float64);
        std::vector<double> one_hot(2 * 6 * 4, 0.0);
        for (int k = 0; k < 12; ++k) one_hot[k * 4 + (k * 7 + 1) % 4] = 1.0;
        x = Tensor::from_vector(one_hot, {2, 6, 4});
    }
    Tensor loss(int64_t position) const {
        NameScope scope("prlstm");
        Tensor logits = net.forward(x);
        Tensor projection = Tensor::from_vector(std::vector<double>{0.7, -1.3}, {1, 1, 2});
        return sum(slice(logits, 1, position, position + 1) * projection);
    }
};

// Per-node norms of a retained [B, m, H] gradient.
std::vector<double> node_norms(const Tensor& grad) {
    std::vector<double> norms;
    for (int64_t j = 0; j < grad.shape()[1]; ++j) norms.push_back(norm(slice(grad, 1, j, j + 1)).item());
    return norms;
}
}  // namespace

BOOST_AUTO_TEST_CASE(grad_flow_prlstm_per_level_and_node) {
    SmallPrLstm model;
    std::vector<double> report_norms;
    std::vector<std::string> report_steps;
    {
        Tape tape;
        TapeGuard guard(tape);
        Tensor loss = model.loss(5);
        std::vector<GradFlowSeries> levels = labelled_states(tape, "prlstm/level=", {"h", "c"}, 1);
        // Levels 0 (the 6 leaves), 1 (3 blocks of 2), 2 (one block of 4).
        BOOST_REQUIRE_EQUAL(levels[0].states.size(), 3u);
        BOOST_CHECK_EQUAL(levels[0].steps[2], "level=2");
        // The states found on the tape are the model's: the leaves and the merges of leaf pairs.
        PrStates leaves = model.net.leaves(model.x);
        BOOST_CHECK(levels[0].states[0].to_double_vector() == leaves.h.to_double_vector());
        PrStates pairs = model.net.merge({slice(leaves.h, 1, 2, 3), slice(leaves.c, 1, 2, 3)},
                                         {slice(leaves.h, 1, 3, 4), slice(leaves.c, 1, 3, 4)});
        std::vector<double> node1 = slice(levels[0].states[1], 1, 1, 2).to_double_vector(), expect = pairs.h.to_double_vector();
        BOOST_REQUIRE_EQUAL(node1.size(), expect.size());
        for (size_t k = 0; k < node1.size(); ++k) BOOST_CHECK_CLOSE(node1[k], expect[k], 1e-12);

        GradFlowReport report = gradient_flow(loss, levels);
        BOOST_REQUIRE_EQUAL(report.norms[0].size(), 10u);  // 6 + 3 + 1 nodes
        BOOST_CHECK_EQUAL(report.steps[0][7], "level=1");
        BOOST_CHECK_EQUAL(report.positions[0][7], 1);
        report_norms = report.norms[0];
        report_steps = report.steps[0];
        // P[5] = M(D_2[0], D_1[2]) reads every leaf: every node of every level gets gradient.
        for (double n : report_norms) BOOST_CHECK_GT(n, 0.0);
    }
    // The same norms from retained gradients of the same states.
    Tape tape;
    TapeGuard guard(tape);
    Tensor loss = model.loss(5);
    std::vector<GradFlowSeries> levels = labelled_states(tape, "prlstm/level=", {"h"}, 1);
    for (Tensor& h : levels[0].states) h.retain_grad();
    backward(loss);
    std::vector<double> retained;
    for (const Tensor& h : levels[0].states)
        for (double n : node_norms(h.grad())) retained.push_back(n);
    BOOST_REQUIRE_EQUAL(retained.size(), report_norms.size());
    for (size_t e = 0; e < retained.size(); ++e) BOOST_CHECK_CLOSE(report_norms[e], retained[e], 1e-10);
}

BOOST_AUTO_TEST_CASE(grad_flow_prlstm_zero_where_the_tree_does_not_reach) {
    // P[2] = M(D_1[0], D_0[2]) reads leaves 0..2 only: leaves 3..5, level-1 nodes 1 and 2 and the
    // level-2 node get exactly zero.
    SmallPrLstm model;
    Tape tape;
    TapeGuard guard(tape);
    Tensor loss = model.loss(2);
    GradFlowReport report = gradient_flow(loss, labelled_states(tape, "prlstm/level=", {"h"}, 1));
    const std::vector<double>& n = report.norms[0];
    BOOST_REQUIRE_EQUAL(n.size(), 10u);
    for (int e : {0, 1, 2, 6}) BOOST_CHECK_GT(n[e], 0.0);
    for (int e : {3, 4, 5, 7, 8, 9}) BOOST_CHECK_EQUAL(n[e], 0.0);
}

BOOST_AUTO_TEST_CASE(cells_label_ops_by_layer_step_and_gate) {
    Generator gen(3);
    Tensor x = Tensor::randn({2, 20, 3}, gen).set_requires_grad();
    Tape tape;
    TapeGuard guard(tape);
    Recurrent lstm(CellType::LSTM, 3, 4, 2, gen), gru(CellType::GRU, 3, 4, 1, gen);
    QlLstmOptions options;
    options.block_size = 8;
    QlLstm ql(3, 4, gen, options);
    PrLstm pr(3, 4, 2, gen);
    {
        NameScope s("lstm");
        lstm.forward(x);
    }
    {
        NameScope s("gru");
        gru.forward(x);
    }
    {
        NameScope s("ql");
        ql.forward(x);
    }
    {
        NameScope s("pr");
        pr.forward(x);
    }
    auto ops_in = [&](const std::string& scope) {
        std::vector<std::string> ops;
        for (const Record& r : tape.records())
            if (r.scope == scope) ops.push_back(r.op);
        return ops;
    };
    using Ops = std::vector<std::string>;
    // Each gate is a view of the gate-major product, then its activation.
    BOOST_CHECK(ops_in("lstm/layer1/t=3/forget_gate") == (Ops{"select", "sigmoid"}));
    BOOST_CHECK(ops_in("lstm/layer0/t=19/candidate") == (Ops{"select", "tanh"}));
    BOOST_CHECK(ops_in("lstm/layer0/t=3/c") == (Ops{"mul", "addcmul"}));  // f * c, then + i * g
    BOOST_CHECK(ops_in("gru/layer0/t=1/update_gate") == (Ops{"select", "add", "sigmoid"}));
    // QL-LSTM: one sigmoid over a ⊙ z + b of i, f, o ("gates"); each is a view of its block; g has
    // its own a ⊙ z + b and tanh.
    BOOST_CHECK(ops_in("ql/t=5/gates") == (Ops{"recurrent_linear", "addcmul", "sigmoid"}));
    BOOST_CHECK(ops_in("ql/t=5/forget_gate") == (Ops{"select"}));
    BOOST_CHECK(ops_in("ql/t=5/candidate") == (Ops{"addcmul", "tanh"}));
    BOOST_CHECK(ops_in("ql/t=7/block=0/c") == (Ops{"add"}));  // every sequence ends the block: c + s
    BOOST_CHECK(ops_in("pr/level=1/left_forget_gate") == Ops{"sigmoid"});
    BOOST_CHECK(ops_in("pr/level=2/refine0/h") == (Ops{"tanh", "mul"}));
    BOOST_CHECK(ops_in("pr/level=0/c") == Ops{"mul"});
}

BOOST_AUTO_TEST_CASE(grad_flow_norm_does_not_underflow) {
    // A gradient 1000 LSTM steps from the loss is ~1e-200: its squares underflow, its norm must not.
    Tape tape;
    TapeGuard guard(tape);
    Tensor x = leaf({1.0, 2.0}, {2});
    Tensor h = x * 2.0;
    Tensor loss = sum(h * Tensor::from_vector(std::vector<double>{3e-200, 4e-200}, {2}));
    GradFlowReport report = gradient_flow(loss, {{"h", {"t=0"}, {h}}});
    BOOST_CHECK_CLOSE(report.norms[0][0], 5e-200, 1e-12);
}

BOOST_AUTO_TEST_CASE(grad_flow_bad_input_is_an_error) {
    SmallLstm model;
    Tape tape;
    TapeGuard guard(tape);
    Tensor loss = model.loss();
    TAPEGRAD_CHECK_ERROR(labelled_states(tape, "gru/", {"h"}), "labelled_states", "no record under scope 'gru/'");
    TAPEGRAD_CHECK_ERROR(labelled_states(tape, "lstm/", {"h", "forget"}), "labelled_states",
                         "step 'lstm/layer0/t=0' has no record labelled 'forget'");
    std::vector<GradFlowSeries> series = labelled_states(tape, "lstm/", {"h"}, /*position_axis=*/2);
    TAPEGRAD_CHECK_ERROR(gradient_flow(loss, series), "gradient_flow", "axis 2", "[2, 4] float64");
}

// ---- hooks: read and replace a gradient ------------------------------------------------------

BOOST_AUTO_TEST_CASE(hook_clips_one_gradient) {
    // The README's example: clip the gradient reaching h to norm 1; x sees the clipped gradient.
    Tensor x = leaf({1.0, 2.0}, {2});
    Tensor h = x * 3.0;
    double seen = 0;
    h.register_hook([&](const Tensor& grad) {
        seen = norm(grad).item();
        return seen > 1.0 ? grad * (1.0 / seen) : grad;
    });
    h.retain_grad();
    backward(sum(h * Tensor::from_vector(std::vector<double>{3.0, 4.0}, {2})));
    BOOST_CHECK_CLOSE(seen, 5.0, 1e-12);  // dL/dh = [3, 4]
    std::vector<double> gx = x.grad().to_double_vector();
    BOOST_CHECK_CLOSE(gx[0], 3.0 * 0.6, 1e-12);  // dL/dx = 3 · [0.6, 0.8]
    BOOST_CHECK_CLOSE(gx[1], 3.0 * 0.8, 1e-12);
    BOOST_CHECK_CLOSE(norm(h.grad()).item(), 1.0, 1e-12);  // retain_grad keeps the clipped gradient
}

// ---- examples/step_through driven through stdin ------------------------------------------------

namespace {
// build/tests/test_inspect -> build/examples/<name> (the Makefile builds step_through and
// custom_op before the tests).
std::string example_binary(const std::string& name) {
    const std::string self = boost::unit_test::framework::master_test_suite().argv[0];
    const size_t slash = self.rfind('/');
    const std::string tests_dir = slash == std::string::npos ? "." : self.substr(0, slash);
    return tests_dir + "/../examples/" + name;
}

std::string run_with_stdin(const std::string& command, const std::string& input, int& status) {
    const std::string script = "printf '" + input + "' | " + command + " 2>&1";
    FILE* pipe = popen(script.c_str(), "r");
    BOOST_REQUIRE_MESSAGE(pipe, "cannot run " << script);
    std::string out;
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    status = pclose(pipe);
    return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(step_through_example_driven_by_stdin) {
    const std::string binary = example_binary("step_through");
    BOOST_REQUIRE_MESSAGE(std::ifstream(binary).good(),
                          "examples/step_through is not built at " << binary << " (make builds it with the tests)");
    int status = -1;
    // Six Enters (six backward steps), print the tape of one scope, quit.
    const std::string out = run_with_stdin(binary + " --model lstm", "\\n\\n\\n\\n\\n\\np lstm/t=3/forget_gate\\nq\\n", status);
    BOOST_TEST_MESSAGE(out);
    BOOST_CHECK_EQUAL(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
    std::istringstream stream(out);
    std::vector<std::string> l;
    for (std::string line; std::getline(stream, line);) l.push_back(line);
    BOOST_REQUIRE_GE(l.size(), 12u);
    auto has = [](const std::string& line, const std::string& part) { return line.find(part) != std::string::npos; };
    auto ends_with = [](const std::string& line, const std::string& end) {
        return line.size() >= end.size() && line.compare(line.size() - end.size(), end.size(), end) == 0;
    };
    BOOST_CHECK(l[0].rfind("lstm: ", 0) == 0 && has(l[0], "records on the tape, loss = "));
    BOOST_CHECK_EQUAL(l[2], "> ");  // the command echoed (stdin is not a terminal)
    // Step 1: the last record, L = sum(h_3 ⊙ w), receives dL/dL = 1 and hands its input ones.
    BOOST_CHECK(l[3].rfind("#", 0) == 0 && has(l[3], " sum ") && ends_with(l[3], "lstm"));
    BOOST_CHECK(l[5].rfind("    dL/d#", 0) == 0 && ends_with(l[5], " = [1.0000]"));
    BOOST_CHECK(ends_with(l[6], " += [1.0000, 1.0000]"));
    // Step 2: h_3 ⊙ w: the formula names h_3, and h_3 receives w = [1, -0.5].
    BOOST_CHECK_EQUAL(l[7], "> ");
    BOOST_CHECK(has(l[8], " mul ") && ends_with(l[8], "lstm"));
    BOOST_CHECK(has(l[9], "dL/dh_3 += dL/d#") && has(l[9], " ⊙ const"));
    BOOST_CHECK_EQUAL(l[11], "    dL/dh_3 += [1.0000, -0.5000]");
    // Further down the forget chain: the reference step writes c_3 = i_3 ⊙ g_3 + f_3 ⊙ c_2 as one
    // addcmul (models/lstm.h), whose rule names the chain: dL/dc_2 += dL/dc_3 ⊙ f_3.
    BOOST_CHECK(has(out, ";  dL/dc_2 += dL/dc_3 ⊙ forget_gate_3\n"));
    BOOST_CHECK(has(out, "> p lstm/t=3/forget_gate\n#") && has(out, " lstm/t=3/forget_gate  sigmoid  in: #"));
}

namespace {
// The text of a file of the repository (tests/../name), read whole.
std::string repository_file(const std::string& name) {
    const std::string path = std::string(__FILE__).substr(0, std::string(__FILE__).rfind('/')) + "/../" + name;
    std::ifstream in(path);
    BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The fenced block that follows `marker` in `text` (without the fences).
std::string block_after(const std::string& text, const std::string& marker) {
    const size_t at = text.find(marker);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no '" << marker << "'");
    const size_t begin = text.find("```\n", at) + 4, end = text.find("```", begin);
    return text.substr(begin, end - begin);
}
}  // namespace

// What the README and the tutorial quote from examples/step_through is what it prints now: the
// README's step-through block and the tape indices its text cites, the tutorial's tape of step 3.
BOOST_AUTO_TEST_CASE(docs_quote_the_step_through_example_as_it_runs) {
    const std::string binary = example_binary("step_through");
    BOOST_REQUIRE_MESSAGE(std::ifstream(binary).good(), "examples/step_through is not built at " << binary);
    int status = -1;
    // The tape of step 3 before backward, then five Enters to its cell-state update (sum, mul,
    // h_3's mul and tanh, addcmul).
    const std::string out = run_with_stdin(binary + " --model lstm", "p lstm/t=3\\n\\n\\n\\n\\n\\nq\\n", status);
    BOOST_CHECK_EQUAL(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
    const std::string readme = repository_file("README.md"), tutorial = repository_file("docs/TUTORIAL.md");
    const std::string stepped = block_after(readme, "**Stepping through backward**");
    BOOST_CHECK_MESSAGE(out.find(stepped) != std::string::npos, "README's step-through block is not in the output:\n"
                                                                    << stepped << "\noutput:\n" << out);
    const std::string tape = block_after(tutorial, "so `p lstm/t=3` prints just the last step");
    BOOST_CHECK_MESSAGE(out.find(tape) != std::string::npos, "TUTORIAL's tape of step 3 is not in the output:\n" << tape);
    // The README's sentence under the DOT picture: c_3 = addcmul(i_3 ⊙ g_3, f_3, c_2), with the
    // indices the printed tape gives them.
    std::smatch record;
    BOOST_REQUIRE(std::regex_search(out, record, std::regex(R"((#\d+) +lstm/t=3/c +addcmul +in: #\d+, (#\d+), (#\d+))")));
    const std::string cited = fmt::format("The forget gate `{}` and\nthe previous cell state `{}` (`lstm/t=2/c`) meet in `{} addcmul`",
                                          record[2].str(), record[3].str(), record[1].str());
    BOOST_CHECK_MESSAGE(readme.find(cited) != std::string::npos, "README should say: " << cited);
}

BOOST_AUTO_TEST_CASE(grad_flow_finds_ql_lstm_state_after_the_block_skip) {
    // At a block end the state is c + s_k (and h from it): the "c"/"h" labels must mark those,
    // whether every sequence ends the block there (unpadded) or only some do (padded).
    for (bool padded : {false, true}) {
        BOOST_TEST_CONTEXT("padded " << padded) {
            Generator gen(9);
            QlLstmOptions options;
            options.block_size = 4;
            QlLstm ql(3, 5, gen, options);
            Tensor x = Tensor::randn({2, 8, 3}, gen).set_requires_grad();
            Tape tape;
            TapeGuard guard(tape);
            RecurrentOutput out = ql.forward(x, padded ? std::vector<int64_t>{8, 6} : std::vector<int64_t>{});
            std::vector<GradFlowSeries> series = labelled_states(tape, "", {"h", "c"});
            BOOST_REQUIRE_EQUAL(series[1].states.size(), 8u);
            BOOST_CHECK(series[0].states[7].to_double_vector() == out.last[0].h.to_double_vector());
            BOOST_CHECK(series[1].states[7].to_double_vector() == out.last[0].c.to_double_vector());
        }
    }
}

// Every record of every model names its real inputs: its formula has one "dL/d<name> += ..." term
// per input, in input order, with distinct names (or one "dL/dx_i" term for an op of any number
// of inputs), so that the step-through can put each input's name into it.
BOOST_AUTO_TEST_CASE(every_model_record_formula_names_its_inputs) {
    Generator gen(4);
    std::map<std::string, std::function<Tensor()>> models;
    models["mlp"] = [&] {
        Linear layer(3, 4, gen);
        Tensor x = Tensor::randn({5, 3}, gen).set_requires_grad();
        Tensor logits = to(softmax(tanh(layer.forward(x)), 1), DType::Float64);
        return cross_entropy(logits, Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 0}, {5}));
    };
    // The recurrent models in both schedules (models/schedule.h): the step-through shows the reference.
    for (Schedule schedule : {Schedule::Fast, Schedule::Reference}) {
        const std::string in = schedule == Schedule::Fast ? "" : " (reference)";
        for (CellType type : {CellType::RNN, CellType::LSTM, CellType::GRU}) {
            models["recurrent" + std::to_string(int(type)) + in] = [&, type, schedule] {
                Recurrent net(type, 3, 4, 2, gen);
                net.schedule = schedule;
                Tensor x = Tensor::randn({2, 5, 3}, gen).set_requires_grad();
                return sum(net.forward(x, {5, 3}).output);
            };
        }
        models["bilstm" + in] = [&, schedule] {
            BiLstm net(3, 4, 1, gen);
            net.schedule = schedule;
            return mean(net.forward(Tensor::randn({2, 5, 3}, gen).set_requires_grad(), {5, 4}).output);
        };
        models["ql_lstm" + in] = [&, schedule] {
            QlLstmOptions options;
            options.block_size = 2;
            QlLstm net(3, 4, gen, options);
            net.schedule = schedule;
            return mean(net.forward(Tensor::randn({2, 5, 3}, gen).set_requires_grad(), {5, 3}).output);
        };
        models["pr_lstm" + in] = [&, schedule] {
            PrLstm net(3, 4, 2, gen, 1);
            net.schedule = schedule;
            return mean(net.forward(Tensor::randn({2, 5, 3}, gen).set_requires_grad()));
        };
    }
    models["transformer"] = [&] {
        TransformerOptions options;
        options.d_model = 8, options.heads = 2, options.layers = 1;
        TransformerEncoder net(0, 3, options, gen);
        Tensor h = net.forward(Tensor::randn({2, 5, 3}, gen).set_requires_grad(), {5, 4});
        return bce_with_logits(max(h, 2), to(Tensor::ones({2, 5}), DType::Float32));
    };
    for (auto& [name, loss_of] : models) {
        BOOST_TEST_CONTEXT("model " << name) {
            Tape tape;
            TapeGuard guard(tape);
            loss_of();
            BOOST_REQUIRE_GT(tape.size(), 0u);
            for (const Record& rec : tape.records()) {
                const std::vector<std::string> names = formula_inputs(rec.formula);
                const bool any_count = names.size() == 1 && names[0].size() > 2 && names[0].compare(names[0].size() - 2, 2, "_i") == 0;
                BOOST_CHECK_MESSAGE(any_count || names.size() == rec.inputs.size(),
                                    rec.op << " has " << rec.inputs.size() << " inputs but its formula \"" << rec.formula
                                           << "\" names " << names.size());
                std::set<std::string> distinct(names.begin(), names.end());
                BOOST_CHECK_MESSAGE(distinct.size() == names.size(), rec.op << ": \"" << rec.formula << "\" names an input twice");
            }
        }
    }
}

// The tutorial's user-defined op (examples/custom_op.cpp: public API only, its input used three
// times) passes the float64 gradient check: a user's record() adds its gradient the one way,
// InputGrads::add, and the engine sums the uses.
BOOST_AUTO_TEST_CASE(custom_op_example_passes_its_gradcheck) {
    int status = 0;
    const std::string out = run_with_stdin(example_binary("custom_op"), "", status);
    BOOST_CHECK_EQUAL(status, 0);
    BOOST_CHECK_MESSAGE(out.find("gradcheck: ok") != std::string::npos, out);
}
