/// \file
/// Ops that move data without arithmetic. reshape returns a view that shares storage (tensors are
/// always contiguous, and nothing in tapegrad writes in place, so sharing is safe), and so does a
/// slice whose window is one contiguous block; every other op here returns a fresh contiguous copy.
/// All of them are one strided-copy kernel underneath.
#pragma once
#include <vector>

#include "../core/tensor.h"

namespace tapegrad {

/// Same elements, new shape (one extent may be -1: inferred). A view.
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor unsqueeze(const Tensor& x, int axis);  ///< insert an extent-1 dim at `axis`
Tensor squeeze(const Tensor& x, int axis);    ///< remove an extent-1 dim
/// y[.., j, .., i, ..] = x[.., i, .., j, ..]
Tensor transpose(const Tensor& x, int axis0, int axis1);
/// y.shape[k] = x.shape[perm[k]]
Tensor permute(const Tensor& x, const std::vector<int>& perm);
/// Elements start <= j < end along `axis` (a view when every dim before `axis` has extent 1).
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end);
/// Entry `index` along `axis`, that dim removed: x[index] for axis 0 (a view when every dim before
/// `axis` has extent 1). One op where reshape(slice(..)) would be two. A negative index counts from
/// the end, as in PyTorch: -1 is the last entry.
Tensor select(const Tensor& x, int axis, int64_t index);
/// Joins tensors that agree on every dim except `axis`.
Tensor concat(const std::vector<Tensor>& xs, int axis);
/// Joins equal-shaped tensors along a new dim at `axis`.
Tensor stack(const std::vector<Tensor>& xs, int axis);
/// Cuts x along `axis` into pieces of the given sizes (which must sum to x.shape[axis]).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis);
/// Cuts x along `axis` into `chunks` equal pieces.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int axis);
/// Rows of x picked by an Int64 index [m] along `axis` (an embedding lookup is
/// index_select(table, 0, token_ids)). The gradient scatter-adds back, so repeated indices sum.
Tensor index_select(const Tensor& x, int axis, const Tensor& index);
/// One entry along `axis` per position: index has x's shape without `axis`,
/// y[.., i, ..] = x[.., index[.., i, ..], .., i, ..] (numpy take_along_axis).
Tensor gather(const Tensor& x, int axis, const Tensor& index);
/// Copies to another device / converts to another dtype; gradients flow back across.
Tensor to(const Tensor& x, Device device);
Tensor to(const Tensor& x, DType dtype);  ///< converts to `dtype` (float32 <-> float64); the gradient converts back

/// Throws naming `op` unless index is an Int64 tensor on x's device and (on the CPU) every value
/// is in [0, n). On a GPU the values are checked by the kernels that read them, and a bad one is
/// reported at the next synchronisation (cuda/index_errors.h).
void check_indices(const char* op, const Tensor& index, int64_t n, const Tensor& x);
/// Throws naming `op` and x unless every value is in [0, n) (the host's check of indices it holds).
void check_index_values(const char* op, const std::vector<int64_t>& values, int64_t n, const Tensor& x);

}  // namespace tapegrad
