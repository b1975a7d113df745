#define BOOST_TEST_MODULE inspect
#include <fstream>
#include <sstream>

#include "autograd/anomaly.h"
#include "autograd/dot_export.h"
#include "autograd/stepper.h"
#include "autograd/tape_print.h"
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
