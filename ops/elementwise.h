// Elementwise ops. Binary ops broadcast NumPy-style ([B, T, H] + [H] works); the gradient of a
// broadcast operand is summed over the dims it was repeated along.
#pragma once
#include "core/tensor.h"

namespace tapegrad {

Tensor neg(const Tensor& x);      // -x
Tensor exp(const Tensor& x);      // e^x
Tensor log(const Tensor& x);      // ln x
Tensor tanh(const Tensor& x);     // tanh x
Tensor sigmoid(const Tensor& x);  // 1 / (1 + e^-x)
Tensor relu(const Tensor& x);     // max(x, 0)
Tensor sqrt(const Tensor& x);     // sqrt x
Tensor pow(const Tensor& x, double exponent);     // x^p
Tensor add_scalar(const Tensor& x, double value);  // x + s
Tensor mul_scalar(const Tensor& x, double value);  // s x

Tensor add(const Tensor& a, const Tensor& b);  // a + b
Tensor sub(const Tensor& a, const Tensor& b);  // a - b
Tensor mul(const Tensor& a, const Tensor& b);  // a * b (elementwise)
Tensor div(const Tensor& a, const Tensor& b);  // a / b
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

// Per-element loss terms of binary cross-entropy on logits (see ops/nn.h for the mean loss).
Tensor bce_with_logits_elementwise(const Tensor& logits, const Tensor& targets);

}  // namespace tapegrad
