// The host side of the GPU kernels: the TG_HD per-element math and index arithmetic that the
// CUDA kernels run, checked on the CPU so CI covers them without a GPU.
#define BOOST_TEST_MODULE kernel_math
#include <cmath>
#include <set>

#include "core/elementwise_math.h"
#include "ops/op_utils.h"
#include "core/optimizer_math.h"
#include "tests/test_helpers.h"

using namespace tapegrad;

BOOST_AUTO_TEST_CASE(grid_stride_visits_every_element_once) {
    // Emulate launches of blocks_x threads_per_block threads over n elements.
    for (int64_t n : {1, 7, 256, 1000, 4097})
        for (int64_t blocks : {1, 3, 16})
            for (int64_t threads : {32, 256}) {
                std::vector<int> visits(n, 0);
                for (int64_t b = 0; b < blocks; ++b)
                    for (int64_t t = 0; t < threads; ++t) {
                        GridStride g = grid_stride(b, threads, t, blocks);
                        for (int64_t i = g.first; i < n; i += g.step) ++visits[i];
                    }
                bool once = std::all_of(visits.begin(), visits.end(), [](int v) { return v == 1; });
                BOOST_CHECK_MESSAGE(once, "n " << n << " blocks " << blocks << " threads " << threads);
            }
}

BOOST_AUTO_TEST_CASE(broadcast_offsets_match_naive_indexing) {
    // a [2, 1, 4] and b [3, 1] broadcast to [2, 3, 4]: offsets of element (i, j, k).
    BroadcastPlan plan = broadcast_plan({2, 1, 4}, {3, 1}, {2, 3, 4});
    for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j)
            for (int64_t k = 0; k < 4; ++k) {
                int64_t linear = (i * 3 + j) * 4 + k;
                BOOST_CHECK_EQUAL(strided_offset(plan.a, linear), i * 4 + k);
                BOOST_CHECK_EQUAL(strided_offset(plan.b, linear), j);
            }
    BOOST_CHECK(!plan.same_shape);
    BOOST_CHECK(broadcast_plan({2, 3}, {2, 3}, {2, 3}).same_shape);
}

BOOST_AUTO_TEST_CASE(broadcast_layouts_know_when_they_repeat) {
    // Over [2, 3, 4]: [3, 1] repeats (along dims 0 and 2), [2, 3, 4] does not, nor does [1, 3, 4]
    // over [1, 3, 4] (extent-1 dims with stride 0 repeat nothing).
    BroadcastPlan plan = broadcast_plan({3, 1}, {2, 3, 4}, {2, 3, 4});
    BOOST_CHECK(is_broadcast(plan.a));
    BOOST_CHECK(!is_broadcast(plan.b));
    BOOST_CHECK(!is_broadcast(broadcast_plan({1, 3, 4}, {3, 4}, {1, 3, 4}).a));
}

BOOST_AUTO_TEST_CASE(transposed_layout_offsets) {
    // x [2, 3] read as its transpose [3, 2]: element (i, j) of the transpose is x[j, i] at j*3 + i.
    StridedLayout t;
    t.ndim = 2;
    t.shape[0] = 3, t.shape[1] = 2;
    t.stride[0] = 1, t.stride[1] = 3;
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 2; ++j) BOOST_CHECK_EQUAL(strided_offset(t, i * 2 + j), j * 3 + i);
}

template <typename Rule>
void check_unary_derivative(double x, double s) {
    double y = Rule::value(x, s);
    double h = 1e-6;
    double numeric = (Rule::value(x + h, s) - Rule::value(x - h, s)) / (2 * h);
    double analytic = Rule::derivative(x, y, s);
    BOOST_CHECK_MESSAGE(std::fabs(analytic - numeric) < 1e-6,
                        Rule::name << " at " << x << ": " << analytic << " vs " << numeric);
}

// Every rule of a list, checked by `check` (a new rule is checked without a new line here).
template <typename... Rules, typename Check>
void for_each_rule(RuleList<Rules...>, Check check) {
    (check(Rules{}), ...);
}

BOOST_AUTO_TEST_CASE(unary_derivatives_match_finite_differences) {
    // Every rule, at points inside every rule's domain (log, sqrt: x > 0).
    for (double x : {0.4, 0.7, 1.9})
        for_each_rule(UnaryRules{}, [&](auto rule) { check_unary_derivative<decltype(rule)>(x, 1.5); });
    // Negative inputs, where the domain allows.
    for (double x : {-2.3, -0.4}) {
        check_unary_derivative<rules::Neg>(x, 0);
        check_unary_derivative<rules::Exp>(x, 0);
        check_unary_derivative<rules::Tanh>(x, 0);
        check_unary_derivative<rules::Sigmoid>(x, 0);
        check_unary_derivative<rules::Relu>(x, 0);
        check_unary_derivative<rules::AddScalar>(x, 1.5);
        check_unary_derivative<rules::MulScalar>(x, -0.5);
        check_unary_derivative<rules::Pow>(x, 3.0);
    }
    // Sigmoid stays finite on both tails in float.
    BOOST_CHECK_EQUAL(rules::Sigmoid::value(-200.0f, 0.0f), 0.0f);
    BOOST_CHECK_EQUAL(rules::Sigmoid::value(200.0f, 0.0f), 1.0f);
}

template <typename Rule>
void check_binary_derivative(double a, double b) {
    double h = 1e-6;
    double da = (Rule::value(a + h, b) - Rule::value(a - h, b)) / (2 * h);
    double db = (Rule::value(a, b + h) - Rule::value(a, b - h)) / (2 * h);
    double analytic_a = Rule::derivative(0, a, b), analytic_b = Rule::derivative(1, a, b);
    BOOST_CHECK_MESSAGE(std::fabs(analytic_a - da) < 1e-6, Rule::name << " d/da at " << a << ", " << b);
    BOOST_CHECK_MESSAGE(std::fabs(analytic_b - db) < 1e-6, Rule::name << " d/db at " << a << ", " << b);
}

BOOST_AUTO_TEST_CASE(binary_derivatives_match_finite_differences) {
    // b in [0, 1]: inside every rule's domain (bce_with_logits' target, div's b != 0).
    for (auto [a, b] : std::vector<std::pair<double, double>>{{0.3, 0.85}, {-2.0, 0.3}, {1.2, 0.45}})
        for_each_rule(BinaryRules{}, [&, a = a, b = b](auto rule) { check_binary_derivative<decltype(rule)>(a, b); });
}

// The lists give each rule its id, name and formula, and dispatch finds the rule again.
BOOST_AUTO_TEST_CASE(rule_lists_dispatch_by_id) {
    BOOST_CHECK_EQUAL(to_string(unary_op<rules::Sigmoid>), "sigmoid");
    BOOST_CHECK_EQUAL(to_string(binary_op<rules::BceWithLogits>), "bce_with_logits");
    for (int id = 0; id < UnaryRules::size; ++id) {
        const char* found = nullptr;
        dispatch_unary(UnaryOp(id), [&](auto rule) { found = decltype(rule)::name; });
        BOOST_CHECK_EQUAL(found, UnaryRules::name(id));
    }
    for (int id = 0; id < BinaryRules::size; ++id) {
        const char* found = nullptr;
        dispatch_binary(BinaryOp(id), [&](auto rule) { found = decltype(rule)::formula; });
        BOOST_CHECK_EQUAL(found, BinaryRules::formula(id));
    }
}

BOOST_AUTO_TEST_CASE(softmax_row_math) {
    // A strided row (stride 2): softmax sums to 1 and its adjoint matches finite differences.
    double x[6] = {0.5, 9, -1.0, 9, 2.0, 9}, y[6] = {0, 0, 0, 0, 0, 0};
    softmax_row(x, y, 3, 2, false);
    BOOST_CHECK_CLOSE(y[0] + y[2] + y[4], 1.0, 1e-12);
    BOOST_CHECK_EQUAL(y[1], 0.0);  // untouched between the strided entries
    double gy[6] = {0.3, 0, -1.2, 0, 0.8, 0}, gx[6] = {0, 0, 0, 0, 0, 0};
    softmax_row_backward(y, gy, gx, 3, 2, false);
    for (int k = 0; k < 3; ++k) {
        double h = 1e-6, plus[6], minus[6], xp[6], xm[6];
        std::copy(x, x + 6, xp);
        std::copy(x, x + 6, xm);
        xp[2 * k] += h;
        xm[2 * k] -= h;
        softmax_row(xp, plus, 3, 2, false);
        softmax_row(xm, minus, 3, 2, false);
        double numeric = 0;
        for (int j = 0; j < 3; ++j) numeric += gy[2 * j] * (plus[2 * j] - minus[2 * j]) / (2 * h);
        BOOST_CHECK_SMALL(gx[2 * k] - numeric, 1e-8);
    }
}

BOOST_AUTO_TEST_CASE(dropout_value_matches_cpu_mask) {
    Generator gen(11);
    Tensor mask = dropout(Tensor::ones({500}), 0.4, gen);
    std::vector<float> m = mask.to_vector<float>();
    for (int64_t i = 0; i < 500; ++i) BOOST_CHECK_EQUAL(m[i], dropout_value<float>(0.4, 11, uint64_t(i)));
}

BOOST_AUTO_TEST_CASE(adam_element_matches_the_formula) {
    // Two steps of Adam on one number, by hand: g = 0.5 then -0.25, lr 0.1, default betas.
    AdamHyper h;
    h.lr = 0.1;
    double p = 1.0, m = 0, v = 0;
    h.bias_correction1 = 1 - 0.9, h.bias_correction2 = 1 - 0.999;
    adam_element(p, 0.5, m, v, h);
    BOOST_CHECK_CLOSE(m, 0.05, 1e-10);
    BOOST_CHECK_CLOSE(v, 0.00025, 1e-10);
    BOOST_CHECK_CLOSE(p, 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-10);  // first step moves by ~lr
    h.bias_correction1 = 1 - 0.81, h.bias_correction2 = 1 - 0.999 * 0.999;
    double p1 = p;
    adam_element(p, -0.25, m, v, h);
    double m2 = 0.9 * 0.05 + 0.1 * -0.25, v2 = 0.999 * 0.00025 + 0.001 * 0.0625;
    BOOST_CHECK_CLOSE(p, p1 - 0.1 * (m2 / 0.19) / (std::sqrt(v2 / (1 - 0.998001)) + 1e-8), 1e-10);
}
