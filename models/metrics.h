// Metrics read on the host (a double, not a tensor): nothing is recorded.
#pragma once
#include "core/tensor.h"

namespace tapegrad {

// The fraction of rows whose largest logit is the target: logits [N, C], targets Int64 [N].
double accuracy(const Tensor& logits, const Tensor& targets);

}  // namespace tapegrad
