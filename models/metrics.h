/// \file
/// Metrics read on the host (a double, not a tensor): nothing is recorded.
#pragma once
#include "../core/tensor.h"

namespace tapegrad {

/// The fraction of rows whose largest logit is the target: logits [N, C], targets Int64 [N].
/// NaN for an empty batch (0 / 0, as mean); a target outside [0, C) is an error.
double accuracy(const Tensor& logits, const Tensor& targets);

}  // namespace tapegrad
