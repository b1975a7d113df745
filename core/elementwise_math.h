/// \file
/// The math of every elementwise op, for one element, on host and device (TG_HD), each op one
/// rule: its name, the gradient formula the step-through prints, its value and its derivative.
/// The CPU kernels (cpu/cpu_backend.cpp) and the CUDA kernels (cuda/) both call these, so each
/// formula exists once and CPU tests check the code the GPU runs. The lists UnaryRules and
/// BinaryRules are the one place that names every elementwise op: an op's id (UnaryOp,
/// BinaryOp), its name and the kernels' dispatch all come from its position there.
///
/// Adding a unary op (say softplus) is a rule here, its entry in UnaryRules, a one-line public
/// function in ops/elementwise.h and a case in tests/ (docs/TUTORIAL.md shows it done).
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "dtype.h"
#include "error.h"
#include "hostdevice.h"
#include "random.h"

namespace tapegrad {

/// The std:: overloads keep float math in float (expf, not exp on a promoted double), which is
/// also what lets the CPU loops use the 16-lane float SIMD variants.
#define TG_USING_STD_MATH using std::exp, std::log, std::tanh, std::sqrt, std::pow, std::log1p, std::fabs

/// A list of rules: the position of each is its op's id.
template <typename... Rules>
struct RuleList {
    static constexpr int size = int(sizeof...(Rules));
    /// The id of `Rule`; a rule missing from the list fails to build.
    template <typename Rule>
    static constexpr int id() {
        constexpr bool matches[] = {std::is_same_v<Rule, Rules>...};
        for (int i = 0; i < size; ++i)
            if (matches[i]) return i;
        return -1;
    }
    static const char* name(int id) {
        static const char* const names[] = {Rules::name...};
        return id >= 0 && id < size ? names[id] : "?";
    }
    static const char* formula(int id) {
        static const char* const formulas[] = {Rules::formula...};
        return id >= 0 && id < size ? formulas[id] : "?";
    }
    /// Calls fn(Rule{}) for the rule with this id: turns the runtime id into a compile-time rule
    /// once per kernel launch, so the per-element loop has no switch inside.
    template <typename Fn>
    static void dispatch(int id, Fn&& fn) {
        int i = 0;
        (void)((i++ == id ? (fn(Rules{}), true) : false) || ...);  // stops at the match
    }
    /// No two rules share a name (checked at compile time below).
    static constexpr bool names_unique() {
        constexpr const char* names[] = {Rules::name...};
        for (int i = 0; i < size; ++i)
            for (int j = i + 1; j < size; ++j)
                if (same_text(names[i], names[j])) return false;
        return true;
    }

private:
    static constexpr bool same_text(const char* a, const char* b) {
        while (*a && *a == *b) ++a, ++b;
        return *a == *b;
    }
};

// ---- unary: y = f(x; s), s the scalar of pow, add_scalar and mul_scalar ------------------------
//   dL/dx += dL/dy ⊙ f'(x), where a rule may write f' with the output y (x = input, y = output)

namespace rules {

/// y = -x
struct Neg {
    static constexpr const char* name = "neg";
    static constexpr const char* formula = "dL/dx += −dL/dy";
    template <typename T> TG_HD static T value(T x, T) { return -x; }
    template <typename T> TG_HD static T derivative(T, T, T) { return T(-1); }
};

/// y = e^x
struct Exp {
    static constexpr const char* name = "exp";
    static constexpr const char* formula = "dL/dx += dL/dy ⊙ y";
    template <typename T> TG_HD static T value(T x, T) { TG_USING_STD_MATH; return exp(x); }
    template <typename T> TG_HD static T derivative(T, T y, T) { return y; }
};

/// y = ln x
struct Log {
    static constexpr const char* name = "log";
    static constexpr const char* formula = "dL/dx += dL/dy / x";
    template <typename T> TG_HD static T value(T x, T) { TG_USING_STD_MATH; return log(x); }
    template <typename T> TG_HD static T derivative(T x, T, T) { return T(1) / x; }
};

/// y = tanh x
struct Tanh {
    static constexpr const char* name = "tanh";
    static constexpr const char* formula = "dL/dx += dL/dy ⊙ (1 − y²)";
    template <typename T> TG_HD static T value(T x, T) { TG_USING_STD_MATH; return tanh(x); }
    template <typename T> TG_HD static T derivative(T, T y, T) { return T(1) - y * y; }
};

/// y = σ(x) = 1 / (1 + e^-x)
struct Sigmoid {
    static constexpr const char* name = "sigmoid";
    static constexpr const char* formula = "dL/dx += dL/dy ⊙ y ⊙ (1 − y)";
    /// Stable on both tails without a branch: for x -> -inf, exp(-x) -> inf and 1 / inf = 0.
    template <typename T> TG_HD static T value(T x, T) { TG_USING_STD_MATH; return T(1) / (T(1) + exp(-x)); }
    template <typename T> TG_HD static T derivative(T, T y, T) { return y * (T(1) - y); }
};

/// y = max(x, 0)
struct Relu {
    static constexpr const char* name = "relu";
    static constexpr const char* formula = "dL/dx += dL/dy ⊙ [x > 0]";
    template <typename T> TG_HD static T value(T x, T) { return x > T(0) ? x : T(0); }
    template <typename T> TG_HD static T derivative(T x, T, T) { return x > T(0) ? T(1) : T(0); }
};

/// y = √x
struct Sqrt {
    static constexpr const char* name = "sqrt";
    static constexpr const char* formula = "dL/dx += dL/dy / (2 y)";
    template <typename T> TG_HD static T value(T x, T) { TG_USING_STD_MATH; return sqrt(x); }
    template <typename T> TG_HD static T derivative(T, T y, T) { return T(0.5) / y; }
};

/// y = x^s
struct Pow {
    static constexpr const char* name = "pow";
    static constexpr const char* formula = "dL/dx += dL/dy ⊙ s x^(s−1)";
    template <typename T> TG_HD static T value(T x, T s) { TG_USING_STD_MATH; return pow(x, s); }
    template <typename T> TG_HD static T derivative(T x, T, T s) { TG_USING_STD_MATH; return s * pow(x, s - T(1)); }
};

/// y = x + s
struct AddScalar {
    static constexpr const char* name = "add_scalar";
    static constexpr const char* formula = "dL/dx += dL/dy";
    template <typename T> TG_HD static T value(T x, T s) { return x + s; }
    template <typename T> TG_HD static T derivative(T, T, T) { return T(1); }
};

/// y = s x
struct MulScalar {
    static constexpr const char* name = "mul_scalar";
    static constexpr const char* formula = "dL/dx += s dL/dy";
    template <typename T> TG_HD static T value(T x, T s) { return x * s; }
    template <typename T> TG_HD static T derivative(T, T, T s) { return s; }
};

/// y = ln(1 + e^x), a smooth relu
struct Softplus {
    static constexpr const char* name = "softplus";
    static constexpr const char* formula = "dL/dx += dL/dy ⊙ σ(x)";
    /// max(x, 0) + ln(1 + e^-|x|): no overflow for large x, no lost digits for very negative x.
    template <typename T> TG_HD static T value(T x, T) {
        TG_USING_STD_MATH;
        return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
    }
    template <typename T> TG_HD static T derivative(T x, T, T) { return Sigmoid::value(x, T(0)); }
};

/// y = |x|; at 0 the gradient is 0 (PyTorch's choice of subgradient)
struct Abs {
    static constexpr const char* name = "abs";
    static constexpr const char* formula = "dL/dx += dL/dy ⊙ sign(x)";
    template <typename T> TG_HD static T value(T x, T) { TG_USING_STD_MATH; return fabs(x); }
    template <typename T> TG_HD static T derivative(T x, T, T) { return x > T(0) ? T(1) : x < T(0) ? T(-1) : T(0); }
};

}  // namespace rules

using UnaryRules = RuleList<rules::Neg, rules::Exp, rules::Log, rules::Tanh, rules::Sigmoid, rules::Relu, rules::Sqrt,
                            rules::Pow, rules::AddScalar, rules::MulScalar, rules::Softplus, rules::Abs>;
static_assert(UnaryRules::names_unique(), "two unary rules share a name");

// ---- binary: y = f(a, b), broadcast -----------------------------------------------------------
//   dL/da += dL/dy ⊙ ∂f/∂a and dL/db += dL/dy ⊙ ∂f/∂b, each summed over the dims its operand was
//   repeated along. derivative(0, a, b) is ∂f/∂a, derivative(1, a, b) is ∂f/∂b.

namespace rules {

/// y = a + b
struct Add {
    static constexpr const char* name = "add";
    static constexpr const char* formula = "dL/da += dL/dy;  dL/db += dL/dy";
    template <typename T> TG_HD static T value(T a, T b) { return a + b; }
    template <typename T> TG_HD static T derivative(int, T, T) { return T(1); }
};

/// y = a - b
struct Sub {
    static constexpr const char* name = "sub";
    static constexpr const char* formula = "dL/da += dL/dy;  dL/db += −dL/dy";
    template <typename T> TG_HD static T value(T a, T b) { return a - b; }
    template <typename T> TG_HD static T derivative(int operand, T, T) { return operand == 0 ? T(1) : T(-1); }
};

/// y = a ⊙ b
struct Mul {
    static constexpr const char* name = "mul";
    static constexpr const char* formula = "dL/da += dL/dy ⊙ b;  dL/db += dL/dy ⊙ a";
    template <typename T> TG_HD static T value(T a, T b) { return a * b; }
    template <typename T> TG_HD static T derivative(int operand, T a, T b) { return operand == 0 ? b : a; }
};

/// y = a / b
struct Div {
    static constexpr const char* name = "div";
    static constexpr const char* formula = "dL/da += dL/dy / b;  dL/db += −dL/dy ⊙ a / b²";
    template <typename T> TG_HD static T value(T a, T b) { return a / b; }
    template <typename T> TG_HD static T derivative(int operand, T a, T b) {
        return operand == 0 ? T(1) / b : -a / (b * b);
    }
};

/// The per-element loss of binary cross-entropy on a logit z (operand a) and a target t in [0, 1]
/// (operand b): y = -t log σ(z) - (1 - t) log(1 - σ(z)), in the stable form
/// y = max(z, 0) - z t + log(1 + e^-|z|).
struct BceWithLogits {
    static constexpr const char* name = "bce_with_logits";
    static constexpr const char* formula = "dL/dz += dL/dy ⊙ (σ(z) − t);  dL/dt += −dL/dy ⊙ z";
    template <typename T> TG_HD static T value(T z, T t) {
        TG_USING_STD_MATH;
        return (z > T(0) ? z : T(0)) - z * t + log1p(exp(-fabs(z)));
    }
    template <typename T> TG_HD static T derivative(int operand, T z, T t) {
        return operand == 0 ? Sigmoid::value(z, T(0)) - t : -z;
    }
};

/// Comparisons: 1 where the relation holds, else 0, in the operands' dtype (tapegrad has no bool
/// dtype). A step function: its gradient is 0 almost everywhere, so none flows through it.
struct Greater {
    static constexpr const char* name = "gt";
    static constexpr const char* formula = "dL/da += 0;  dL/db += 0";
    template <typename T> TG_HD static T value(T a, T b) { return a > b ? T(1) : T(0); }
    template <typename T> TG_HD static T derivative(int, T, T) { return T(0); }
};

struct Less {
    static constexpr const char* name = "lt";
    static constexpr const char* formula = "dL/da += 0;  dL/db += 0";
    template <typename T> TG_HD static T value(T a, T b) { return a < b ? T(1) : T(0); }
    template <typename T> TG_HD static T derivative(int, T, T) { return T(0); }
};

struct Equal {
    static constexpr const char* name = "eq";
    static constexpr const char* formula = "dL/da += 0;  dL/db += 0";
    template <typename T> TG_HD static T value(T a, T b) { return a == b ? T(1) : T(0); }
    template <typename T> TG_HD static T derivative(int, T, T) { return T(0); }
};

}  // namespace rules

using BinaryRules = RuleList<rules::Add, rules::Sub, rules::Mul, rules::Div, rules::BceWithLogits, rules::Greater,
                             rules::Less, rules::Equal>;
static_assert(BinaryRules::names_unique(), "two binary rules share a name");

/// An elementwise op's id, handed to the kernels: its rule's position in UnaryRules or BinaryRules.
enum class UnaryOp : int8_t {};
enum class BinaryOp : int8_t {};
template <typename Rule>
constexpr UnaryOp unary_op = UnaryOp(UnaryRules::id<Rule>());
template <typename Rule>
constexpr BinaryOp binary_op = BinaryOp(BinaryRules::id<Rule>());
inline const char* to_string(UnaryOp op) { return UnaryRules::name(int(op)); }
inline const char* to_string(BinaryOp op) { return BinaryRules::name(int(op)); }

/// Calls fn(Rule{}) with the rule of a runtime op id (see RuleList::dispatch).
template <typename Fn>
void dispatch_unary(UnaryOp op, Fn&& fn) { UnaryRules::dispatch(int(op), fn); }
template <typename Fn>
void dispatch_binary(BinaryOp op, Fn&& fn) { BinaryRules::dispatch(int(op), fn); }

/// Calls fn(T{}) with T = float or double for a floating dtype.
template <typename Fn>
void dispatch_float(DType dtype, Fn&& fn) {
    if (dtype == DType::Float32) fn(float{});
    else if (dtype == DType::Float64) fn(double{});
    else throw Error("kernel: expected a float32 or float64 tensor, got " + to_string(dtype));
}

/// One row of a softmax: x[i*stride] for i < n. Max-subtracted for stability.
///   softmax:     y_i = e^(x_i - m) / sum_j e^(x_j - m)
///   log_softmax: y_i = x_i - m - log sum_j e^(x_j - m)
template <typename T>
TG_HD void softmax_row(const T* x, T* y, int64_t n, int64_t stride, bool log_output) {
    TG_USING_STD_MATH;
    T m = x[0];
    for (int64_t i = 1; i < n; ++i) m = x[i * stride] > m ? x[i * stride] : m;
    T total = 0;
    for (int64_t i = 0; i < n; ++i) total += exp(x[i * stride] - m);
    if (log_output) {
        T log_total = log(total);
        for (int64_t i = 0; i < n; ++i) y[i * stride] = x[i * stride] - m - log_total;
    } else {
        for (int64_t i = 0; i < n; ++i) y[i * stride] = exp(x[i * stride] - m) / total;
    }
}

/// The adjoint of softmax_row (accumulating into gx):
///   softmax:     gx_i += y_i (gy_i - sum_j gy_j y_j)
///   log_softmax: gx_i += gy_i - e^(y_i) sum_j gy_j
template <typename T>
TG_HD void softmax_row_backward(const T* y, const T* gy, T* gx, int64_t n, int64_t stride, bool log_output) {
    TG_USING_STD_MATH;
    T dot = 0;
    for (int64_t i = 0; i < n; ++i) dot += log_output ? gy[i * stride] : gy[i * stride] * y[i * stride];
    for (int64_t i = 0; i < n; ++i) {
        int64_t k = i * stride;
        gx[k] += log_output ? gy[k] - exp(y[k]) * dot : y[k] * (gy[k] - dot);
    }
}

/// Dropout keep-mask value for element `index`: 1/(1-p) with probability 1-p, else 0.
template <typename T>
TG_HD T dropout_value(double p, uint64_t seed, uint64_t index) {
    return philox_uniform(seed, index) >= p ? T(1.0 / (1.0 - p)) : T(0);
}

}  // namespace tapegrad
