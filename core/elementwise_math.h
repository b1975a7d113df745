// The math of every elementwise op, for one element, on host and device (TG_HD).
// The CPU kernels (cpu/cpu_backend.cpp) and the CUDA kernels (cuda/) both call these, so the
// formulas exist once and CPU tests check the code the GPU runs.
//
//   op           forward y = f(x)              derivative dy/dx (x = input, y = output, s = scalar)
//   neg          -x                            -1
//   exp          e^x                           y
//   log          ln x                          1 / x
//   tanh         tanh x                        1 - y^2
//   sigmoid      1 / (1 + e^-x)                y (1 - y)
//   relu         max(x, 0)                     1 if x > 0 else 0
//   sqrt         sqrt x                        1 / (2 y)
//   pow          x^s                           s x^(s-1)
//   add_scalar   x + s                         1
//   mul_scalar   s x                           s
#pragma once
#include <cmath>
#include <type_traits>

#include "core/backend.h"
#include "core/hostdevice.h"

namespace tapegrad {

// The std:: overloads keep float math in float (expf, not exp on a promoted double), which is
// also what lets the CPU loops use the 16-lane float SIMD variants.
#define TG_USING_STD_MATH using std::exp, std::log, std::tanh, std::sqrt, std::pow, std::log1p, std::fabs

template <UnaryOp OP, typename T>
TG_HD T unary_value(T x, T s) {
    TG_USING_STD_MATH;
    if constexpr (OP == UnaryOp::Neg) return -x;
    if constexpr (OP == UnaryOp::Exp) return exp(x);
    if constexpr (OP == UnaryOp::Log) return log(x);
    if constexpr (OP == UnaryOp::Tanh) return tanh(x);
    // Stable on both tails without a branch: for x -> -inf, exp(-x) -> inf and 1 / inf = 0.
    if constexpr (OP == UnaryOp::Sigmoid) return T(1) / (T(1) + exp(-x));
    if constexpr (OP == UnaryOp::Relu) return x > T(0) ? x : T(0);
    if constexpr (OP == UnaryOp::Sqrt) return sqrt(x);
    if constexpr (OP == UnaryOp::Pow) return pow(x, s);
    if constexpr (OP == UnaryOp::AddScalar) return x + s;
    if constexpr (OP == UnaryOp::MulScalar) return x * s;
    return T(0);
}

template <UnaryOp OP, typename T>
TG_HD T unary_derivative(T x, T y, T s) {
    TG_USING_STD_MATH;
    if constexpr (OP == UnaryOp::Neg) return T(-1);
    if constexpr (OP == UnaryOp::Exp) return y;
    if constexpr (OP == UnaryOp::Log) return T(1) / x;
    if constexpr (OP == UnaryOp::Tanh) return T(1) - y * y;
    if constexpr (OP == UnaryOp::Sigmoid) return y * (T(1) - y);
    if constexpr (OP == UnaryOp::Relu) return x > T(0) ? T(1) : T(0);
    if constexpr (OP == UnaryOp::Sqrt) return T(0.5) / y;
    if constexpr (OP == UnaryOp::Pow) return s * pow(x, s - T(1));
    if constexpr (OP == UnaryOp::AddScalar) return T(1);
    if constexpr (OP == UnaryOp::MulScalar) return s;
    return T(0);
}

//   op                forward y = f(a, b)                        dy/da            dy/db
//   add               a + b                                      1                1
//   sub               a - b                                      1                -1
//   mul               a b                                        b                a
//   div               a / b                                      1 / b            -a / b^2
//   bce_with_logits   max(a,0) - a b + log(1 + e^-|a|)           sigmoid(a) - b   -a
//                     (a = logit, b = target in [0, 1]; the stable form of
//                      -b log sigmoid(a) - (1 - b) log(1 - sigmoid(a)))
template <BinaryOp OP, typename T>
TG_HD T binary_value(T a, T b) {
    TG_USING_STD_MATH;
    if constexpr (OP == BinaryOp::Add) return a + b;
    if constexpr (OP == BinaryOp::Sub) return a - b;
    if constexpr (OP == BinaryOp::Mul) return a * b;
    if constexpr (OP == BinaryOp::Div) return a / b;
    if constexpr (OP == BinaryOp::BceWithLogits) return (a > T(0) ? a : T(0)) - a * b + log1p(exp(-fabs(a)));
    return T(0);
}

template <BinaryOp OP, typename T>
TG_HD T binary_derivative(int operand, T a, T b) {
    if constexpr (OP == BinaryOp::Add) return T(1);
    if constexpr (OP == BinaryOp::Sub) return operand == 0 ? T(1) : T(-1);
    if constexpr (OP == BinaryOp::Mul) return operand == 0 ? b : a;
    if constexpr (OP == BinaryOp::Div) return operand == 0 ? T(1) / b : -a / (b * b);
    if constexpr (OP == BinaryOp::BceWithLogits)
        return operand == 0 ? unary_value<UnaryOp::Sigmoid, T>(a, T(0)) - b : -a;
    return T(0);
}

// Calls fn(std::integral_constant<UnaryOp, op>) for the runtime `op`: turns the runtime enum into
// a compile-time one once per kernel launch, so the per-element loop has no switch inside.
template <typename Fn>
void dispatch_unary(UnaryOp op, Fn&& fn) {
    switch (op) {
        case UnaryOp::Neg: fn(std::integral_constant<UnaryOp, UnaryOp::Neg>{}); break;
        case UnaryOp::Exp: fn(std::integral_constant<UnaryOp, UnaryOp::Exp>{}); break;
        case UnaryOp::Log: fn(std::integral_constant<UnaryOp, UnaryOp::Log>{}); break;
        case UnaryOp::Tanh: fn(std::integral_constant<UnaryOp, UnaryOp::Tanh>{}); break;
        case UnaryOp::Sigmoid: fn(std::integral_constant<UnaryOp, UnaryOp::Sigmoid>{}); break;
        case UnaryOp::Relu: fn(std::integral_constant<UnaryOp, UnaryOp::Relu>{}); break;
        case UnaryOp::Sqrt: fn(std::integral_constant<UnaryOp, UnaryOp::Sqrt>{}); break;
        case UnaryOp::Pow: fn(std::integral_constant<UnaryOp, UnaryOp::Pow>{}); break;
        case UnaryOp::AddScalar: fn(std::integral_constant<UnaryOp, UnaryOp::AddScalar>{}); break;
        case UnaryOp::MulScalar: fn(std::integral_constant<UnaryOp, UnaryOp::MulScalar>{}); break;
    }
}

template <typename Fn>
void dispatch_binary(BinaryOp op, Fn&& fn) {
    switch (op) {
        case BinaryOp::Add: fn(std::integral_constant<BinaryOp, BinaryOp::Add>{}); break;
        case BinaryOp::Sub: fn(std::integral_constant<BinaryOp, BinaryOp::Sub>{}); break;
        case BinaryOp::Mul: fn(std::integral_constant<BinaryOp, BinaryOp::Mul>{}); break;
        case BinaryOp::Div: fn(std::integral_constant<BinaryOp, BinaryOp::Div>{}); break;
        case BinaryOp::BceWithLogits: fn(std::integral_constant<BinaryOp, BinaryOp::BceWithLogits>{}); break;
    }
}

// Calls fn(T{}) with T = float or double for a floating dtype.
template <typename Fn>
void dispatch_float(DType dtype, Fn&& fn) {
    if (dtype == DType::Float32) fn(float{});
    else if (dtype == DType::Float64) fn(double{});
    else throw Error("kernel: expected a float32 or float64 tensor, got " + to_string(dtype));
}

// One row of a softmax: x[i*stride] for i < n. Max-subtracted for stability.
//   softmax:     y_i = e^(x_i - m) / sum_j e^(x_j - m)
//   log_softmax: y_i = x_i - m - log sum_j e^(x_j - m)
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

// The adjoint of softmax_row (accumulating into gx):
//   softmax:     gx_i += y_i (gy_i - sum_j gy_j y_j)
//   log_softmax: gx_i += gy_i - e^(y_i) sum_j gy_j
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

// Dropout keep-mask value for element `index`: 1/(1-p) with probability 1-p, else 0.
template <typename T>
TG_HD T dropout_value(double p, uint64_t seed, uint64_t index) {
    return philox_uniform(seed, index) >= p ? T(1.0 / (1.0 - p)) : T(0);
}

}  // namespace tapegrad
