// Reductions over one axis or over all elements.
#pragma once
#include "core/tensor.h"

namespace tapegrad {

Tensor sum(const Tensor& x);                                     // scalar: sum of all elements
Tensor sum(const Tensor& x, int axis, bool keepdim = false);     // [.., n, ..] -> [.., ..]
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int axis, bool keepdim = false);
Tensor max(const Tensor& x);                                     // scalar: largest element
Tensor max(const Tensor& x, int axis, bool keepdim = false);     // gradient flows to the first maximum
// Index of the largest entry along `axis` (Int64, not differentiable).
Tensor argmax(const Tensor& x, int axis);

}  // namespace tapegrad
