/// \file
/// Elementwise ops. Binary ops broadcast NumPy-style ([B, T, H] + [H] works); the gradient of a
/// broadcast operand is summed over the dims it was repeated along.
///
/// Each op's math (value, derivative and the formula its record prints) is its rule in
/// core/elementwise_math.h; unary() and binary() run a rule's kernels and record it.
#pragma once
#include "../core/backend.h"
#include "../core/tensor.h"

namespace tapegrad {

/// y = f(x) for the unary rule `op` (s parameterises pow, add_scalar and mul_scalar), recorded.
Tensor unary(UnaryOp op, const Tensor& x, double s = 0.0);
/// y = a (op) b for the binary rule `op`, broadcast, recorded.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);

inline Tensor neg(const Tensor& x) { return unary(unary_op<rules::Neg>, x); }            ///< -x
inline Tensor exp(const Tensor& x) { return unary(unary_op<rules::Exp>, x); }            ///< e^x
inline Tensor log(const Tensor& x) { return unary(unary_op<rules::Log>, x); }            ///< ln x
inline Tensor tanh(const Tensor& x) { return unary(unary_op<rules::Tanh>, x); }          ///< tanh x
inline Tensor sigmoid(const Tensor& x) { return unary(unary_op<rules::Sigmoid>, x); }    ///< 1 / (1 + e^-x)
inline Tensor relu(const Tensor& x) { return unary(unary_op<rules::Relu>, x); }          ///< max(x, 0)
inline Tensor sqrt(const Tensor& x) { return unary(unary_op<rules::Sqrt>, x); }          ///< sqrt x
inline Tensor pow(const Tensor& x, double p) { return unary(unary_op<rules::Pow>, x, p); }                ///< x^p
inline Tensor add_scalar(const Tensor& x, double s) { return unary(unary_op<rules::AddScalar>, x, s); }   ///< x + s
inline Tensor mul_scalar(const Tensor& x, double s) { return unary(unary_op<rules::MulScalar>, x, s); }   ///< s x
inline Tensor softplus(const Tensor& x) { return unary(unary_op<rules::Softplus>, x); }  ///< ln(1 + e^x)
inline Tensor abs(const Tensor& x) { return unary(unary_op<rules::Abs>, x); }            ///< |x|

inline Tensor add(const Tensor& a, const Tensor& b) { return binary(binary_op<rules::Add>, a, b); }  ///< a + b
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(binary_op<rules::Sub>, a, b); }  ///< a - b
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(binary_op<rules::Mul>, a, b); }  ///< a ⊙ b
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(binary_op<rules::Div>, a, b); }  ///< a / b
/// Per-element loss terms of binary cross-entropy on logits (see ops/nn.h for the mean loss).
inline Tensor bce_with_logits_elementwise(const Tensor& logits, const Tensor& targets) {
    return binary(binary_op<rules::BceWithLogits>, logits, targets);
}

Tensor addcmul(const Tensor& a, const Tensor& b, const Tensor& c);  ///< a + b * c (torch.addcmul), one op

/// Comparisons, broadcast: 1 where the relation holds, else 0, in the operands' dtype; no gradient
/// flows through them (a step's derivative is 0).
inline Tensor gt(const Tensor& a, const Tensor& b) { return binary(binary_op<rules::Greater>, a, b); }  ///< a > b
inline Tensor lt(const Tensor& a, const Tensor& b) { return binary(binary_op<rules::Less>, a, b); }     ///< a < b
inline Tensor eq(const Tensor& a, const Tensor& b) { return binary(binary_op<rules::Equal>, a, b); }    ///< a == b

/// condition ? a : b elementwise, broadcast, with condition 1 or 0 (a comparison's result):
/// b + condition ⊙ (a − b), so dL/da = dL/dy ⊙ condition and dL/db = dL/dy ⊙ (1 − condition).
/// (An infinite or NaN value in the branch not taken still reaches the result: 0 ⊙ inf is NaN.)
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
/// x with `value` where mask is 1 (torch.masked_fill): where(mask, value, x).
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
/// x limited to [low, high] (torch.clamp): the gradient is 1 inside, bounds included, 0 outside.
Tensor clamp(const Tensor& x, double low, double high);

Tensor operator-(const Tensor& x);  ///< -x (neg)
Tensor operator+(const Tensor& a, const Tensor& b);  ///< a + b, broadcast (add)
Tensor operator-(const Tensor& a, const Tensor& b);  ///< a - b, broadcast (sub)
Tensor operator*(const Tensor& a, const Tensor& b);  ///< a ⊙ b, broadcast (mul)
Tensor operator/(const Tensor& a, const Tensor& b);  ///< a / b, broadcast (div)
Tensor operator+(const Tensor& x, double s);  ///< x + s (add_scalar)
Tensor operator+(double s, const Tensor& x);  ///< s + x (add_scalar)
Tensor operator-(const Tensor& x, double s);  ///< x - s (add_scalar of -s)
Tensor operator-(double s, const Tensor& x);  ///< s + (-x)
Tensor operator*(const Tensor& x, double s);  ///< s x (mul_scalar)
Tensor operator*(double s, const Tensor& x);  ///< s x (mul_scalar)
Tensor operator/(const Tensor& x, double s);  ///< x / s (mul_scalar of 1/s)
Tensor operator/(double s, const Tensor& x);  ///< s * x^-1

}  // namespace tapegrad
