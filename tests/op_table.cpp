#include "tests/op_table.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

namespace tapegrad::testing {

namespace {

// ---- ops/elementwise.h: one entry per rule of UnaryRules and BinaryRules (core/elementwise_math.h),
// in the lists' order ----
// Inputs stay away from the points where an op is not differentiable (relu at 0) and from the
// edges of its domain (log, sqrt at 0).

struct UnaryEntry {
    const char* op;
    Tensor (*apply)(const Tensor& x);
    double low, high;
};

constexpr UnaryEntry unary_entries[] = {
    {"neg", [](const Tensor& x) { return neg(x); }, -2, 2},
    {"exp", [](const Tensor& x) { return exp(x); }, -2, 2},
    {"log", [](const Tensor& x) { return log(x); }, 0.5, 2},
    {"tanh", [](const Tensor& x) { return tanh(x); }, -2, 2},
    {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, -2, 2},
    {"relu", [](const Tensor& x) { return relu(x); }, -2, 2},
    {"sqrt", [](const Tensor& x) { return sqrt(x); }, 0.5, 2},
    {"pow", [](const Tensor& x) { return pow(x, 3.0); }, -2, 2},
    {"add_scalar", [](const Tensor& x) { return add_scalar(x, 0.7); }, -2, 2},
    {"mul_scalar", [](const Tensor& x) { return mul_scalar(x, -2.5); }, -2, 2},
    {"softplus", [](const Tensor& x) { return softplus(x); }, -3, 3},
    {"abs", [](const Tensor& x) { return abs(x); }, -2, 2},
};

// b is kept in [0.5, 1.5] for div's sake; bce_with_logits takes logits and targets in [0, 1].
struct BinaryEntry {
    const char* op;
    Tensor (*apply)(const Tensor& a, const Tensor& b);
    double a_low, a_high, b_low, b_high;
};

constexpr BinaryEntry binary_entries[] = {
    {"add", [](const Tensor& a, const Tensor& b) { return a + b; }, -1, 1, 0.5, 1.5},
    {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }, -1, 1, 0.5, 1.5},
    {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }, -1, 1, 0.5, 1.5},
    {"div", [](const Tensor& a, const Tensor& b) { return a / b; }, -1, 1, 0.5, 1.5},
    {"bce_with_logits", [](const Tensor& a, const Tensor& b) { return bce_with_logits_elementwise(a, b); }, -3, 3, 0, 1},
    {"gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); }, -1, 1, 0.5, 1.5},
    {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); }, -1, 1, 0.5, 1.5},
    {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); }, -1, 1, 0.5, 1.5},
};

// A rule added to UnaryRules or BinaryRules without an entry here fails to build; the test
// op_table_covers_every_elementwise_op (test_ops) checks that the entries name the rules in order.
static_assert(std::size(unary_entries) == size_t(UnaryRules::size),
              "a rule of UnaryRules (core/elementwise_math.h) has no entry in unary_entries (tests/op_table.cpp)");
static_assert(std::size(binary_entries) == size_t(BinaryRules::size),
              "a rule of BinaryRules (core/elementwise_math.h) has no entry in binary_entries (tests/op_table.cpp)");

std::string shapes_text(const std::vector<Shape>& shapes) {
    std::string text;
    for (const Shape& s : shapes) text += (text.empty() ? "" : " with ") + to_string(s);
    return text;
}

// 24 distinct values, so that a maximum is unique (and max differentiable) along every axis.
std::vector<double> distinct_values(size_t n) {
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = std::sin(1.7 * double(i) + 0.3) * 3.0;
    return v;
}

// Built on first use: the test suites register their cases before main, when this file's
// namespace-scope objects may not be constructed yet (only the constexpr ones above are).
std::vector<OpCase> build_table() {
    std::vector<OpCase> table;
    auto add_case = [&](OpCase c) { table.push_back(std::move(c)); };

    // ---- ops/elementwise.h ----
    for (const UnaryEntry& e : unary_entries)
        add_case({e.op, "[3, 4]", {{{3, 4}, e.low, e.high}}, [apply = e.apply](const Inputs& v) { return apply(v[0]); }});
    add_case({"pow", "negative exponent", {{{4, 3}, 0.5, 2}}, [](const Inputs& v) { return pow(v[0], -1.5); }});
    add_case({"abs", "values 0.2 or more from the kink", {{{2, 3}, 0, 0, {-1.5, 0.3, 2.0, -0.2, 0.9, -3.0}}},
             [](const Inputs& v) { return abs(v[0]); }});
    add_case({"relu", "values 0.2 or more from the kink", {{{2, 3}, 0, 0, {-1.5, 0.3, 2.0, -0.2, 0.9, -3.0}}},
             [](const Inputs& v) { return relu(v[0]); }});
    // Operand shapes of every binary op: equal, then broadcast either way, with a 0-dim tensor,
    // and both operands broadcast at once.
    const std::vector<std::pair<Shape, Shape>> binary_shapes = {
        {{3, 4}, {3, 4}}, {{2, 3}, {3}},    {{2, 1, 4}, {3, 1}}, {{4}, {2, 3, 4}},
        {{}, {2, 3}},     {{3, 1}, {1, 5}}, {{2, 3, 4}, {3, 1}}};
    for (const BinaryEntry& e : binary_entries)
        for (const auto& [sa, sb] : binary_shapes)
            add_case({e.op, shapes_text({sa, sb}), {{sa, e.a_low, e.a_high}, {sb, e.b_low, e.b_high}},
                     [apply = e.apply](const Inputs& v) { return apply(v[0], v[1]); }});
    // Both operands' gradients from one pass (the first writes, later ones add), and one tensor
    // as both operands.
    add_case({"mul", "one tensor as both operands: a * a + (a / b) * b", {{{3, 4}}, {{3, 4}, 0.5, 1.5}},
             [](const Inputs& v) { return v[0] * v[0] + (v[0] / v[1]) * v[1]; }});
    // The operators with a scalar are neg, add_scalar, mul_scalar and pow underneath.
    const std::vector<std::pair<std::string, Tensor (*)(const Tensor&)>> scalar_operators = {
        {"2 - x", [](const Tensor& x) { return 2.0 - x; }},
        {"3 / x", [](const Tensor& x) { return 3.0 / x; }},
        {"x / 4 + 1", [](const Tensor& x) { return x / 4.0 + 1.0; }},
        {"(x - 0.5) * 3", [](const Tensor& x) { return (x - 0.5) * 3.0; }},
        {"(2 - x) * 3 + 1", [](const Tensor& x) { return (2.0 - x) * 3.0 + 1.0; }},
    };
    for (const auto& [text, apply] : scalar_operators)
        add_case({"scalar_operators", text, {{{2, 5}, 0.5, 1.5}}, [apply = apply](const Inputs& v) { return apply(v[0]); }, true});
    // a + b * c with each of the three broadcast in turn (a blend of [4, 1, H] gates with [B, H]
    // states), and one tensor thrice.
    const std::vector<std::vector<Shape>> addcmul_shapes = {{{2, 3}, {2, 3}, {2, 3}},  {{4, 1, 3}, {2, 3}, {4, 1, 3}},
                                                            {{3}, {2, 3}, {2, 1}},     {{2, 1, 4}, {4}, {3, 1}},
                                                            {{4, 1, 3}, {1, 2, 3}, {4, 1, 3}}};
    for (const auto& shapes : addcmul_shapes)
        add_case({"addcmul", shapes_text(shapes), {{shapes[0]}, {shapes[1]}, {shapes[2]}},
                 [](const Inputs& v) { return addcmul(v[0], v[1], v[2]); }});
    add_case({"where", "condition [2, 3] of 0 and 1, a [2, 3], b [3] broadcast", {{{2, 3}, 0, 0, {1, 0, 0, 1, 1, 0}}, {{2, 3}}, {{3}}},
              [](const Inputs& v) { return where(v[0], v[1], v[2]); }, true});
    add_case({"masked_fill", "x [2, 3], mask [3] broadcast", {{{2, 3}}, {{3}, 0, 0, {0, 1, 0}}},
              [](const Inputs& v) { return masked_fill(v[0], v[1], -0.5); }, true});
    add_case({"clamp", "to [-0.5, 0.5], values 0.1 or more from the bounds", {{{2, 3}, 0, 0, {-1.5, 0.3, 0.9, -0.2, 0.0, -0.7}}},
              [](const Inputs& v) { return clamp(v[0], -0.5, 0.5); }, true});
    add_case({"addcmul", "one tensor thrice", {{{2, 3}}}, [](const Inputs& v) { return addcmul(v[0], v[0], v[0]); }});

    // ---- ops/reduce.h ----
    add_case({"sum", "all of [2, 3, 4]", {{{2, 3, 4}}}, [](const Inputs& v) { return sum(v[0]); }});
    add_case({"mean", "all of [2, 3, 4]", {{{2, 3, 4}}}, [](const Inputs& v) { return mean(v[0]); }});
    add_case({"max", "all of [2, 3, 4]", {{{2, 3, 4}, 0, 0, distinct_values(24)}}, [](const Inputs& v) { return max(v[0]); }});
    add_case({"min", "all of [2, 3, 4]", {{{2, 3, 4}, 0, 0, distinct_values(24)}}, [](const Inputs& v) { return min(v[0]); }, true});
    for (bool keepdim : {false, true})
        add_case({"min", std::string("[2, 3, 4] over axis 1") + (keepdim ? ", keepdim" : ""), {{{2, 3, 4}, 0, 0, distinct_values(24)}},
                  [=](const Inputs& v) { return min(v[0], 1, keepdim); }, true});
    add_case({"var", "[3, 4] over axis 1, unbiased", {{{3, 4}}}, [](const Inputs& v) { return var(v[0], 1); }, true});
    add_case({"var", "[2, 3, 4] over axis 0, biased, keepdim", {{{2, 3, 4}}}, [](const Inputs& v) { return var(v[0], 0, false, true); }, true});
    add_case({"stddev", "[3, 4] over axis -1, unbiased", {{{3, 4}}}, [](const Inputs& v) { return stddev(v[0], -1); }, true});
    // norm: p = 2 is its own record ("norm"); p = 1 and inf are composed of abs, sum and max.
    // Values away from 0 (abs's kink), distinct (max's), and a row of zeros for the gradient at 0.
    const double inf = std::numeric_limits<double>::infinity();
    add_case({"norm", "p = 2 of all of [2, 3, 4]", {{{2, 3, 4}}}, [](const Inputs& v) { return norm(v[0]); }});
    for (bool keepdim : {false, true})
        add_case({"norm", std::string("p = 2 of [2, 3, 4] over axis 1") + (keepdim ? ", keepdim" : ""), {{{2, 3, 4}}},
                  [=](const Inputs& v) { return norm(v[0], 2, 1, keepdim); }});
    add_case({"norm", "p = 2 over axis -1 of [3, 2], one row all zeros (gradient 0 there, not NaN)",
              {{{3, 2}, 0, 0, {0.5, -1.2, 0.0, 0.0, 0.3, 0.8}}}, [](const Inputs& v) { return norm(v[0], 2, -1) + sum(v[0]); }});
    add_case({"norm", "p = 1 of all of [2, 3, 4]", {{{2, 3, 4}, 0, 0, distinct_values(24)}},
              [](const Inputs& v) { return norm(v[0], 1); }, true});
    add_case({"norm", "p = 1 of [2, 3, 4] over axis 0, keepdim", {{{2, 3, 4}, 0, 0, distinct_values(24)}},
              [](const Inputs& v) { return norm(v[0], 1, 0, true); }, true});
    add_case({"norm", "p = inf of all of [2, 3, 4]", {{{2, 3, 4}, 0, 0, distinct_values(24)}},
              [=](const Inputs& v) { return norm(v[0], inf); }, true});
    add_case({"norm", "p = inf of [2, 3, 4] over axis 2", {{{2, 3, 4}, 0, 0, distinct_values(24)}},
              [=](const Inputs& v) { return norm(v[0], inf, 2); }, true});
    for (int axis : {0, 1, 2, -1})
        for (bool keepdim : {false, true}) {
            const std::string text = "[2, 3, 4] over axis " + std::to_string(axis) + (keepdim ? ", keepdim" : "");
            add_case({"sum", text, {{{2, 3, 4}}}, [=](const Inputs& v) { return sum(v[0], axis, keepdim); }});
            add_case({"mean", text, {{{2, 3, 4}}}, [=](const Inputs& v) { return mean(v[0], axis, keepdim); }});
            add_case({"max", text, {{{2, 3, 4}, 0, 0, distinct_values(24)}},
                     [=](const Inputs& v) { return max(v[0], axis, keepdim); }});
        }

    // ---- ops/linalg.h ----
    add_case({"matmul", "[3, 5] x [5, 2]", {{{3, 5}}, {{5, 2}}}, [](const Inputs& v) { return matmul(v[0], v[1]); }});
    add_case({"matmul", "[2, 3, 5] x [5, 2]: leading dims folded into one product", {{{2, 3, 5}}, {{5, 2}}},
             [](const Inputs& v) { return matmul(v[0], v[1]); }});
    add_case({"matmul", "batched [4, 3, 2] x [4, 2, 5]", {{{4, 3, 2}}, {{4, 2, 5}}}, [](const Inputs& v) { return matmul(v[0], v[1]); }});
    add_case({"linear", "x [2, 3, 4], weight [5, 4], bias [5]", {{{2, 3, 4}}, {{5, 4}}, {{5}}},
             [](const Inputs& v) { return linear(v[0], v[1], v[2]); }});
    add_case({"linear", "no bias", {{{2, 3, 4}}, {{5, 4}}}, [](const Inputs& v) { return linear(v[0], v[1], Tensor()); }});

    // ---- ops/shape_ops.h ----
    add_case({"reshape", "[2, 6] as [3, -1] and [3, 4]", {{{2, 6}}},
             [](const Inputs& v) { return reshape(v[0], {3, -1}) * reshape(v[0], {3, 4}); }});
    add_case({"unsqueeze", "axis 1", {{{2, 6}}}, [](const Inputs& v) { return unsqueeze(v[0], 1); }, true});
    add_case({"unsqueeze", "axis -1", {{{2, 6}}}, [](const Inputs& v) { return unsqueeze(v[0], -1); }, true});
    add_case({"squeeze", "[2, 1, 6] axis 1", {{{2, 1, 6}}}, [](const Inputs& v) { return squeeze(v[0], 1); }, true});
    add_case({"squeeze", "squeeze(unsqueeze(x, 1), 1) * 2", {{{2, 6}}},
             [](const Inputs& v) { return squeeze(unsqueeze(v[0], 1), 1) * 2.0; }, true});
    add_case({"transpose", "[2, 3, 4] axes 0 and 2", {{{2, 3, 4}}}, [](const Inputs& v) { return transpose(v[0], 0, 2); }, true});
    add_case({"permute", "[2, 3, 4] to {1, 2, 0}", {{{2, 3, 4}}}, [](const Inputs& v) { return permute(v[0], {1, 2, 0}); }});
    add_case({"slice", "[2, 5, 3] axis 1, 1..4", {{{2, 5, 3}}}, [](const Inputs& v) { return slice(v[0], 1, 1, 4); }});
    add_case({"slice", "[2, 5, 3] axis -1, 2..3", {{{2, 5, 3}}}, [](const Inputs& v) { return slice(v[0], -1, 2, 3); }});
    add_case({"slice", "leading dim (views): slice 1..2 * slice 0..1 of [3, 2, 2]", {{{3, 2, 2}}},
             [](const Inputs& v) { return slice(v[0], 0, 1, 2) * slice(v[0], 0, 0, 1); }});
    add_case({"select", "[3, 2, 4]: select(x, 0, 1) * select(x, 0, 2) (views)", {{{3, 2, 4}}},
             [](const Inputs& v) { return select(v[0], 0, 1) * select(v[0], 0, 2); }});
    add_case({"select", "[3, 2, 4] axis -1, index 3", {{{3, 2, 4}}}, [](const Inputs& v) { return select(v[0], -1, 3); }});
    add_case({"select", "[3, 2, 4] axis 0, index -1 (the last, counted from the end)", {{{3, 2, 4}}},
              [](const Inputs& v) { return select(v[0], 0, -1); }});
    add_case({"concat", "[2, 5, 3], [2, 2, 3], [2, 1, 3] along axis 1", {{{2, 5, 3}}, {{2, 2, 3}}, {{2, 1, 3}}},
             [](const Inputs& v) { return concat({v[0], v[1], v[2]}, 1); }});
    add_case({"concat", "[2, 2], [2, 3] along axis 1", {{{2, 2}}, {{2, 3}}}, [](const Inputs& v) { return concat({v[0], v[1]}, 1); }});
    add_case({"stack", "[3, 2] twice along axis 1, one squared", {{{3, 2}}, {{3, 2}}},
             [](const Inputs& v) { return stack({v[0], v[1] * v[1]}, 1); }, true});
    add_case({"stack", "[3, 2] twice along axis 0", {{{3, 2}}, {{3, 2}}}, [](const Inputs& v) { return stack({v[0], v[1]}, 0); }, true});
    add_case({"split", "[2, 5, 3] into 1, 3, 1 along axis 1", {{{2, 5, 3}}},
             [](const Inputs& v) {
                 std::vector<Tensor> parts = split(v[0], {1, 3, 1}, 1);
                 return parts[0] * parts[2] + sum(parts[1], 1, true);
             }});
    // A piece no gradient reaches (its window of dL/dx is zero), pieces along the last axis, and
    // x also used outside the split (its gradient is added to, not overwritten).
    add_case({"split", "along the last axis, one piece unused, x used beside it", {{{2, 5, 3}}},
             [](const Inputs& v) {
                 std::vector<Tensor> parts = split(v[0], {1, 1, 1}, 2);
                 return parts[0] * parts[2] + v[0] * 0.5;
             }});
    add_case({"split", "only the last piece used (zeros for the others)", {{{2, 5, 3}}},
             [](const Inputs& v) { return split(v[0], {2, 2, 1}, 1)[2] * 2.0; }});
    add_case({"split", "[2, 5] into 2, 3, both summed", {{{2, 5}}},
             [](const Inputs& v) {
                 std::vector<Tensor> parts = split(v[0], {2, 3}, 1);
                 return sum(parts[0], 1) - sum(parts[1], 1);
             }});
    add_case({"chunk", "[2, 5, 3] into 2 along axis 0", {{{2, 5, 3}}},
             [](const Inputs& v) {
                 std::vector<Tensor> parts = chunk(v[0], 2, 0);
                 return parts[0] - parts[1] * 3.0;
             },
             true});
    add_case({"index_select", "rows of [5, 3], repeated (their gradients sum)", {{{5, 3}}},
             [](const Inputs& v) { return index_select(v[0], 0, indices(v[0], {4, 1, 1, 0, 4, 4}, {6})); }});
    add_case({"index_select", "columns of [5, 3]", {{{5, 3}}},
             [](const Inputs& v) { return index_select(v[0], 1, indices(v[0], {2, 0, 2, 2}, {4})); }});
    add_case({"gather", "[3, 4, 2] along axis 1", {{{3, 4, 2}}},
             [](const Inputs& v) { return gather(v[0], 1, indices(v[0], {3, 0, 1, 1, 2, 3}, {3, 2})); }});
    add_case({"gather", "[3, 4] along axis 1", {{{3, 4}}},
             [](const Inputs& v) { return gather(v[0], 1, indices(v[0], {3, 0, 3}, {3})); }});
    // float64 -> float32 -> float64 (float32 -> float64 -> float32 on float32 inputs). The values
    // and the step are multiples of 2^-10, so every value the check evaluates is a float32
    // exactly: the float32 leg rounds nothing, and the differences are exact.
    OpCase round_trip{"to_dtype", "float64 -> float32 -> float64 on values float32 holds exactly",
                      {{{2, 3}, 0, 0, {-0.75, 0.125, 0.5, -0.3125, 0.875, -0.5}}},
                      [](const Inputs& v) {
                          const DType own = v[0].defined() ? v[0].dtype() : DType::Float64;
                          const DType other = own == DType::Float64 ? DType::Float32 : DType::Float64;
                          return to(to(v[0], other), own);
                      }};
    round_trip.gradcheck.eps = 1.0 / 1024;
    add_case(round_trip);

    // ---- ops/nn.h ----
    for (int axis : {0, -1}) {
        const std::string text = "[3, 4] axis " + std::to_string(axis);
        add_case({"softmax", text, {{{3, 4}, -2, 2}}, [=](const Inputs& v) { return softmax(v[0], axis); }});
        add_case({"log_softmax", text, {{{3, 4}, -2, 2}}, [=](const Inputs& v) { return log_softmax(v[0], axis); }});
    }
    add_case({"softmax", "[2, 3, 4] axis 1", {{{2, 3, 4}, -2, 2}}, [](const Inputs& v) { return softmax(v[0], 1); }});
    add_case({"cross_entropy", "logits [4, 3]", {{{4, 3}, -2, 2}},
             [](const Inputs& v) { return cross_entropy(v[0], indices(v[0], {2, 0, 1, 2}, {4})); }, true});
    add_case({"cross_entropy", "logits [B, T, C] = [2, 3, 5], targets [2, 3]", {{{2, 3, 5}, -2, 2}},
             [](const Inputs& v) { return cross_entropy(v[0], indices(v[0], {4, 0, 2, 1, 3, 3}, {2, 3})); }, true});
    add_case({"bce_with_logits", "the mean loss, logits and targets [3, 2]", {{{3, 2}, -3, 3}, {{3, 2}, 0, 1}},
             [](const Inputs& v) { return bce_with_logits(v[0], v[1]); }});
    add_case({"dropout", "p = 0.3 on [4, 5], the same mask at every call", {{{4, 5}}},
             [](const Inputs& v) {
                 Generator gen(9);
                 return dropout(v[0], 0.3, gen);
             }});
    return table;
}

}  // namespace

const std::vector<OpCase>& op_table() {
    static const std::vector<OpCase> table = build_table();
    return table;
}

const std::vector<std::string>& unary_op_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> list;
        for (const UnaryEntry& e : unary_entries) list.push_back(e.op);
        return list;
    }();
    return names;
}

const std::vector<std::string>& binary_op_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> list;
        for (const BinaryEntry& e : binary_entries) list.push_back(e.op);
        return list;
    }();
    return names;
}

const std::vector<FunctionElsewhere>& functions_elsewhere() {
    static const std::vector<FunctionElsewhere> list = {
        {"bce_with_logits_elementwise", "its cases are bce_with_logits's, the name of its record"},
        {"to", "to(x, DType): the to_dtype cases; to(x, Device) needs two devices (test_cuda's to_device_gradient)"},
        {"argmax", "not differentiable: records nothing (test_ops' reduction_values)"},
        {"unary", "runs a rule of UnaryRules: the cases of each rule go by the rule's name"},
        {"binary", "runs a rule of BinaryRules: the cases of each rule go by the rule's name"},
        {"one_hot", "not differentiable, of int64 indices: values and errors in test_ops' one_hot_values"},
        {"empty_like", "not an op: the uninitialised output buffer an op writes into (ops/op_utils.h, for writing ops)"},
    };
    return list;
}

std::vector<OpCase> zero_extent_variants(const OpCase& c) {
    std::vector<OpCase> variants;
    for (size_t i = 0; i < c.inputs.size(); ++i) {
        const Shape& shape = c.inputs[i].shape;
        for (size_t d = 0; d < shape.size(); ++d) {
            const size_t from_right = shape.size() - d;
            const int64_t extent = shape[d];
            if (extent <= 1 || !c.inputs[i].values.empty()) continue;
            OpCase v = c;
            for (InputSpec& spec : v.inputs) {
                if (!spec.values.empty() || spec.shape.size() < from_right) continue;
                int64_t& e = spec.shape[spec.shape.size() - from_right];
                if (e == extent) e = 0;
            }
            v.variant += fmt::format(" with {} set to 0 in input {}", "axis " + std::to_string(d), i);
            variants.push_back(v);
        }
    }
    return variants;
}

Inputs make_inputs(const OpCase& c, DType dtype, Device device) {
    Generator gen(20261123);  // the same seed for every case: its values do not depend on its place
    NoGrad no_grad;
    Inputs inputs;
    for (const InputSpec& spec : c.inputs) {
        Tensor x = spec.values.empty() ? Tensor::uniform(spec.shape, spec.low, spec.high, gen, DType::Float64)
                                       : Tensor::from_values(spec.values, spec.shape, DType::Float64);
        inputs.push_back(to(to(x, dtype), device).detach().set_requires_grad());
    }
    return inputs;
}

Tensor indices(const Tensor& like, const std::vector<int64_t>& values, const Shape& shape) {
    // On the CPU when `like` is undefined: the op, not the case, is to meet the undefined input.
    return to(Tensor::from_vector(values, shape), like.defined() ? like.device() : Device::cpu());
}

boost::unit_test::test_suite* register_op_cases(const std::string& suite_name, const std::string& what,
                                                const std::function<void(const OpCase&)>& check,
                                                const boost::unit_test::test_unit::precondition_t& precondition) {
    namespace utf = boost::unit_test;
    utf::test_suite* suite = BOOST_TEST_SUITE(suite_name);
    if (precondition) suite->add_precondition(precondition);
    std::vector<std::string> ops;  // in table order, each once
    for (const OpCase& c : op_table())
        if (std::find(ops.begin(), ops.end(), c.op) == ops.end()) ops.push_back(c.op);
    for (const std::string& op : ops) {
        auto run = [op, check] {
            for (const OpCase& c : op_table()) {
                if (c.op != op) continue;
                BOOST_TEST_CONTEXT(c.op << ": " << c.variant) {
                    try {
                        check(c);
                    } catch (const std::exception& e) {
                        BOOST_ERROR("threw " << e.what());
                    }
                }
            }
        };
        suite->add(utf::make_test_case(run, op + "_" + what, __FILE__, __LINE__));
    }
    utf::framework::master_test_suite().add(suite);
    return suite;
}

}  // namespace tapegrad::testing
