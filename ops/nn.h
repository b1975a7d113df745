/// \file
/// Neural-network ops: softmax family, losses, dropout.
#pragma once
#include "../core/random.h"
#include "../core/tensor.h"

namespace tapegrad {

/// y_i = e^(x_i) / sum_j e^(x_j) along `axis` (max-subtracted, stable).
Tensor softmax(const Tensor& x, int axis = -1);
/// y_i = x_i - log sum_j e^(x_j) along `axis` (stable).
Tensor log_softmax(const Tensor& x, int axis = -1);
/// Mean over positions of -log softmax(logits)[target]: logits [..., C], targets Int64 [...].
Tensor cross_entropy(const Tensor& logits, const Tensor& targets);
/// Mean of the stable binary cross-entropy of sigmoid(logits) against targets in [0, 1]
/// (same shape as logits, or broadcastable to it).
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets);
/// Int64 class indices [...] -> [..., classes] of 0 and 1 in `dtype` (torch.nn.functional.one_hot),
/// on the indices' device; each index must be in [0, classes). Not differentiable.
Tensor one_hot(const Tensor& indices, int64_t classes, DType dtype = DType::Float32);
/// Training: zeroes each element with probability p and scales the rest by 1/(1-p), with a
/// counter-based mask (the same mask on CPU and GPU for the same generator state).
/// Not training (or p == 0): returns x unchanged.
Tensor dropout(const Tensor& x, double p, Generator& gen, bool training = true);

}  // namespace tapegrad
