/// \file
/// Layouts built from shapes: how an op's kernels walk its tensors. Both backends and the ops use
/// these (core/indexing.h has the index arithmetic itself).
#pragma once
#include <vector>

#include "backend.h"
#include "indexing.h"
#include "tensor.h"

namespace tapegrad {

/// How two operands of shapes a and b are read over their broadcast shape `out`.
BroadcastPlan broadcast_plan(const Shape& a, const Shape& b, const Shape& out);
/// A contiguous tensor of shape `shape`, read in memory order.
StridedLayout contiguous_layout(const Shape& shape);
/// A contiguous tensor of shape `source` read in the order of its permutation `perm`.
StridedLayout permuted_layout(const Shape& source, const std::vector<int>& perm);
/// y (same ndim as x, extents equal or 1) walked over x's shape: stride 0 along the dims y is
/// broadcast in. The layout sum_to and broadcast_add kernels index y with.
StridedLayout broadcast_layout(const Tensor& y, const Tensor& x);
/// The same storage seen with another shape, starting `offset` elements after x's first element
/// (a contiguous block of x); not recorded (for kernels' use and views).
Tensor alias_with_shape(const Tensor& x, const Shape& shape, int64_t offset = 0);

}  // namespace tapegrad
