// The tape's semantics: accumulation, grad modes, retained gradients, hooks, several tapes,
// very long chains, clearing, and the errors of misuse.
#define BOOST_TEST_MODULE autograd
#include <cmath>

#include "tests/test_helpers.h"

using namespace tapegrad;
using namespace tapegrad::testing;

namespace {
Tensor scalar_leaf(double v) {
    Tensor t = Tensor::scalar(v, DType::Float64);
    t.set_requires_grad();
    return t;
}
}  // namespace

BOOST_AUTO_TEST_CASE(gradient_sums_over_uses) {
    // L = x*y + sin-free mix: dL/dx = y + 2x, dL/dy = x
    Tensor x = scalar_leaf(3.0), y = scalar_leaf(-2.0);
    Tensor l = x * y + x * x;
    backward(l);
    BOOST_CHECK_CLOSE(x.grad().item(), -2.0 + 6.0, 1e-12);
    BOOST_CHECK_CLOSE(y.grad().item(), 3.0, 1e-12);
}

BOOST_AUTO_TEST_CASE(gradient_accumulates_across_backward_calls) {
    Tensor x = scalar_leaf(2.0);
    backward(x * 3.0);
    backward(x * x);
    BOOST_CHECK_CLOSE(x.grad().item(), 3.0 + 4.0, 1e-12);
    x.zero_grad();
    BOOST_CHECK(!x.grad().defined());
    backward(x * 5.0);
    BOOST_CHECK_CLOSE(x.grad().item(), 5.0, 1e-12);
}

BOOST_AUTO_TEST_CASE(no_grad_records_nothing) {
    Tensor x = scalar_leaf(1.0);
    size_t before = active_tape().size();
    {
        NoGrad guard;
        Tensor y = exp(x) * 2.0;
        BOOST_CHECK(!y.requires_grad());
        BOOST_CHECK(!grad_enabled());
    }
    BOOST_CHECK(grad_enabled());
    BOOST_CHECK_EQUAL(active_tape().size(), before);
}

BOOST_AUTO_TEST_CASE(retain_grad_keeps_intermediate_gradient) {
    Tensor x = input({3}, 1);
    Tensor h = tanh(x);
    h.retain_grad();
    Tensor unretained = h * 2.0;
    backward(sum(unretained * unretained));
    // L = sum (2h)^2: dL/dh = 8h
    std::vector<double> hv = h.to_double_vector(), gh = h.grad().to_double_vector();
    for (size_t i = 0; i < hv.size(); ++i) BOOST_CHECK_CLOSE(gh[i], 8 * hv[i], 1e-10);
    BOOST_CHECK(!unretained.grad().defined());
}

BOOST_AUTO_TEST_CASE(hooks_observe_and_replace) {
    Tensor x = scalar_leaf(1.5);
    Tensor h = x * 4.0;
    double seen = 0;
    h.register_hook([&](const Tensor& g) {
        seen = g.item();
        return g * 0.5;  // halve the gradient flowing into h
    });
    backward(h * 3.0);
    BOOST_CHECK_CLOSE(seen, 3.0, 1e-12);
    BOOST_CHECK_CLOSE(x.grad().item(), 3.0 * 0.5 * 4.0, 1e-12);

    Tensor leaf = scalar_leaf(2.0);
    leaf.register_hook([](const Tensor& g) { return g * 10.0; });
    backward(leaf * leaf);
    BOOST_CHECK_CLOSE(leaf.grad().item(), 40.0, 1e-12);
}

// A view's backward hands dL/dy's buffer to its input as that input's first gradient (no copy),
// and later gradients add into it. That must never change a gradient someone still holds: here
// a hook keeps dL/dy of the reshape, x's other use adds into x's gradient after the reshape's
// backward ran, and the kept tensor must still be dL/dy. Without the hook, the handover happens.
BOOST_AUTO_TEST_CASE(passed_through_gradient_never_changes_a_kept_one) {
    for (bool keep : {true, false}) {
        Tensor x = input({2, 3}, 30), w1 = input({3, 2}, 31).detach(), w2 = input({2, 3}, 32).detach();
        Tensor first_use = sum(x * w2);  // recorded first, so its backward runs after the reshape's
        Tensor y = reshape(x, {3, 2});
        Tensor kept;
        if (keep) y.register_hook([&](const Tensor& g) { kept = g; return g; });
        backward(first_use + sum(y * w1));
        std::vector<double> gx = x.grad().to_double_vector(), a = w1.to_double_vector(), b = w2.to_double_vector();
        for (size_t i = 0; i < gx.size(); ++i) BOOST_CHECK_CLOSE(gx[i], a[i] + b[i], 1e-10);
        if (keep) {
            std::vector<double> seen = kept.to_double_vector();
            for (size_t i = 0; i < seen.size(); ++i) BOOST_CHECK_CLOSE(seen[i], a[i], 1e-10);
        }
    }
}

BOOST_AUTO_TEST_CASE(hook_with_wrong_shape_is_an_error) {
    Tensor x = input({3}, 2);
    Tensor h = x * 2.0;
    h.register_hook([](const Tensor&) { return Tensor::zeros({2}, DType::Float64); });
    TAPEGRAD_CHECK_ERROR(backward(sum(h)), "hook", "[3]");
}

BOOST_AUTO_TEST_CASE(independent_tapes) {
    Tape first, second;
    Tensor x = scalar_leaf(2.0);
    Tensor a, b;
    {
        TapeGuard guard(first);
        a = x * x;
    }
    {
        TapeGuard guard(second);
        b = x * 3.0;
    }
    BOOST_CHECK_EQUAL(first.size(), 1u);
    BOOST_CHECK_EQUAL(second.size(), 1u);
    backward(b);
    BOOST_CHECK_CLOSE(x.grad().item(), 3.0, 1e-12);
    BOOST_CHECK_EQUAL(first.size(), 1u);  // untouched by the other tape's backward
    backward(a);
    BOOST_CHECK_CLOSE(x.grad().item(), 3.0 + 4.0, 1e-12);
    {
        TapeGuard guard(first);
        Tensor c = x * 2.0;
        TapeGuard inner(second);
        TAPEGRAD_CHECK_ERROR(c * 2.0, "mul", "different tape");
    }
}

BOOST_AUTO_TEST_CASE(long_chains_do_not_overflow_the_stack) {
    // 10,000 steps of an unrolled recurrence h <- tanh(0.5 h + x): d h_T / d x by the chain rule.
    Tensor x = scalar_leaf(0.1);
    Tensor h = Tensor::scalar(0.0, DType::Float64);
    for (int t = 0; t < 10000; ++t) h = tanh(h * 0.5 + x);
    backward(h);
    // Reference: forward-mode derivative along the same recurrence.
    double hv = 0, dh = 0;
    for (int t = 0; t < 10000; ++t) {
        double pre = 0.5 * hv + 0.1;
        hv = std::tanh(pre);
        dh = (1 - hv * hv) * (0.5 * dh + 1);
    }
    BOOST_CHECK_CLOSE(x.grad().item(), dh, 1e-9);

    Tensor y = scalar_leaf(1.0);
    Tensor chain = y;
    for (int i = 0; i < 100000; ++i) chain = chain + 1e-6;
    backward(chain * 2.0);
    BOOST_CHECK_CLOSE(y.grad().item(), 2.0, 1e-12);
}

BOOST_AUTO_TEST_CASE(tape_is_cleared_unless_kept) {
    Tape tape;
    TapeGuard guard(tape);
    Tensor x = scalar_leaf(3.0);
    Tensor l = x * x;
    backward(l, {Tensor(), /*keep_tape=*/true});
    BOOST_CHECK_EQUAL(tape.size(), 1u);
    backward(l);  // second pass on the kept tape accumulates
    BOOST_CHECK_CLOSE(x.grad().item(), 12.0, 1e-12);
    BOOST_CHECK_EQUAL(tape.size(), 0u);
    TAPEGRAD_CHECK_ERROR(backward(l), "backward", "cleared");
    TAPEGRAD_CHECK_ERROR(l * 2.0, "mul", "cleared", "detach");
    Tensor fresh = l.detach() * x;  // detached: a constant, so this is fine
    backward(fresh);
    BOOST_CHECK_CLOSE(x.grad().item(), 12.0 + 9.0, 1e-12);
}

BOOST_AUTO_TEST_CASE(detach_cuts_the_graph) {
    Tensor x = scalar_leaf(2.0);
    Tensor y = x * x;
    Tensor d = y.detach();
    BOOST_CHECK(!d.requires_grad());
    BOOST_CHECK(d.is_leaf());
    backward(y * d);  // d is a constant 4: dL/dx = 4 * 2x
    BOOST_CHECK_CLOSE(x.grad().item(), 16.0, 1e-12);
}

BOOST_AUTO_TEST_CASE(backward_seed_rules) {
    Tensor x = input({2, 3}, 3);
    Tensor y = x * 2.0;
    TAPEGRAD_CHECK_ERROR(backward(y), "backward", "not a scalar", "[2, 3]");
    TAPEGRAD_CHECK_ERROR(backward(y, {Tensor::ones({3, 2}, DType::Float64)}), "backward", "[3, 2]", "[2, 3]");
    backward(y, {Tensor::full({2, 3}, 0.5, DType::Float64)});
    for (double g : x.grad().to_double_vector()) BOOST_CHECK_CLOSE(g, 1.0, 1e-12);
    TAPEGRAD_CHECK_ERROR(backward(Tensor::ones({1})), "backward", "does not require grad");
}

BOOST_AUTO_TEST_CASE(records_name_op_and_scope) {
    Tape tape;
    TapeGuard guard(tape);
    Tensor x = scalar_leaf(1.0);
    {
        NameScope layer("lstm");
        NameScope step("t=3");
        Tensor y = sigmoid(x);
        BOOST_CHECK_EQUAL(producer(y).op, "sigmoid");
        BOOST_CHECK_EQUAL(producer(y).scope, "lstm/t=3");
    }
    Tensor z = exp(x);
    BOOST_CHECK_EQUAL(producer(z).scope, "");
    BOOST_CHECK_EQUAL(tape.records().size(), 2u);
    BOOST_CHECK(tape.records()[0].inputs[0].same(x));
}
