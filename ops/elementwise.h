// Elementwise ops. Binary ops broadcast NumPy-style ([B, T, H] + [H] works); the gradient of a
// broadcast operand is summed over the dims it was repeated along.
//
// Each op's math (value, derivative and the formula its record prints) is its rule in
// core/elementwise_math.h; unary() and binary() run a rule's kernels and record it.
#pragma once
#include "core/backend.h"
#include "core/tensor.h"

namespace tapegrad {

// y = f(x) for the unary rule `op` (s parameterises pow, add_scalar and mul_scalar), recorded.
Tensor unary(UnaryOp op, const Tensor& x, double s = 0.0);
// y = a (op) b for the binary rule `op`, broadcast, recorded.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);

inline Tensor neg(const Tensor& x) { return unary(unary_op<rules::Neg>, x); }            // -x
inline Tensor exp(const Tensor& x) { return unary(unary_op<rules::Exp>, x); }            // e^x
inline Tensor log(const Tensor& x) { return unary(unary_op<rules::Log>, x); }            // ln x
inline Tensor tanh(const Tensor& x) { return unary(unary_op<rules::Tanh>, x); }          // tanh x
inline Tensor sigmoid(const Tensor& x) { return unary(unary_op<rules::Sigmoid>, x); }    // 1 / (1 + e^-x)
inline Tensor relu(const Tensor& x) { return unary(unary_op<rules::Relu>, x); }          // max(x, 0)
inline Tensor sqrt(const Tensor& x) { return unary(unary_op<rules::Sqrt>, x); }          // sqrt x
inline Tensor pow(const Tensor& x, double p) { return unary(unary_op<rules::Pow>, x, p); }                // x^p
inline Tensor add_scalar(const Tensor& x, double s) { return unary(unary_op<rules::AddScalar>, x, s); }   // x + s
inline Tensor mul_scalar(const Tensor& x, double s) { return unary(unary_op<rules::MulScalar>, x, s); }   // s x
inline Tensor softplus(const Tensor& x) { return unary(unary_op<rules::Softplus>, x); }  // ln(1 + e^x)
inline Tensor abs(const Tensor& x) { return unary(unary_op<rules::Abs>, x); }            // |x|

inline Tensor add(const Tensor& a, const Tensor& b) { return binary(binary_op<rules::Add>, a, b); }  // a + b
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(binary_op<rules::Sub>, a, b); }  // a - b
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(binary_op<rules::Mul>, a, b); }  // a ⊙ b
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(binary_op<rules::Div>, a, b); }  // a / b
// Per-element loss terms of binary cross-entropy on logits (see ops/nn.h for the mean loss).
inline Tensor bce_with_logits_elementwise(const Tensor& logits, const Tensor& targets) {
    return binary(binary_op<rules::BceWithLogits>, logits, targets);
}

Tensor addcmul(const Tensor& a, const Tensor& b, const Tensor& c);  // a + b * c (torch.addcmul), one op

Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& x, double s);
Tensor operator+(double s, const Tensor& x);
Tensor operator-(const Tensor& x, double s);
Tensor operator-(double s, const Tensor& x);  // s + (-x)
Tensor operator*(const Tensor& x, double s);
Tensor operator*(double s, const Tensor& x);
Tensor operator/(const Tensor& x, double s);
Tensor operator/(double s, const Tensor& x);  // s * x^-1

}  // namespace tapegrad
