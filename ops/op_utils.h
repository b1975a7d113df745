// Helpers every op uses to check its inputs: errors name the op and what it got.
#pragma once
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "core/backend.h"
#include "core/tensor.h"

namespace tapegrad {

// Throws unless x holds float32/float64 values.
void check_floating(const char* op, const Tensor& x);
// Throws unless all tensors share one dtype and one device.
void check_same_dtype_device(const char* op, const std::vector<Tensor>& tensors);
// A new uninitialised tensor with x's dtype and device.
Tensor empty_like(const Tensor& x, const Shape& shape);
Tensor empty_like(const Tensor& x);
Backend& kernels(const Tensor& x);
// How two operands of shapes a and b are read over their broadcast shape `out`.
BroadcastPlan broadcast_plan(const Shape& a, const Shape& b, const Shape& out);
// A contiguous tensor of shape `shape`, read in memory order.
StridedLayout contiguous_layout(const Shape& shape);
// A contiguous tensor of shape `source` read in the order of its permutation `perm`.
StridedLayout permuted_layout(const Shape& source, const std::vector<int>& perm);
// y (same ndim as x, extents equal or 1) walked over x's shape: stride 0 along the dims y is
// broadcast in. The layout sum_to and broadcast_add kernels index y with.
StridedLayout broadcast_layout(const Tensor& y, const Tensor& x);
// The same storage seen with another shape, starting `offset` elements after x's first element
// (a contiguous block of x); not recorded (for kernels' use and views).
Tensor alias_with_shape(const Tensor& x, const Shape& shape, int64_t offset = 0);
// dL/d(input i) += gy seen with input i's shape (the backward of a view such as reshape, or of
// a term passed through unchanged, as addcmul's a). When it is the first gradient to reach input i and
// nothing else holds gy (no hook kept it, no other view of its buffer), the input takes gy's
// buffer itself instead of a copy: gy dies with the record's backward, so no one sees the adds
// that later gradients make into it.
void pass_gradient(InputGrads& gx, size_t i, const Tensor& gy, const Shape& input_shape);

// C (+)= op(A) op(B) on the tensors' backend, for `batch` row-major matrices laid out back to back:
// op(A) is [m, k], op(B) is [k, n], C is [m, n]; beta = 0 writes C, beta = 1 adds to it. The GEMM
// of matmul, linear and RecurrentLinear (models/recurrent_linear.h).
void gemm(bool transpose_a, bool transpose_b, const Tensor& a, const Tensor& b, Tensor& c, int64_t m, int64_t n,
          int64_t k, double beta, int64_t batch = 1);

}  // namespace tapegrad
