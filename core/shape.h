/// \file
/// Shapes are lists of extents, outermost first: [B, T, H]. Tensors are always contiguous and
/// row-major, so a shape alone determines the strides.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tapegrad {

/// A tensor's extents, outermost first ([B, T, H]); {} is a 0-dim tensor (a scalar).
using Shape = std::vector<int64_t>;

/// The number of elements; throws when it does not fit in 64 bits (a shape that no storage can hold).
int64_t numel(const Shape& shape);
/// Whether numel(shape) fits in 64 bits.
bool numel_fits(const Shape& shape);
/// The rows of `shape` viewed as a matrix [rows, shape.back()]: the product of all extents but the
/// last, so that [2, 0] has 2 rows of none (not numel / 0).
int64_t leading_rows(const Shape& shape);
/// The row-major element strides of a contiguous tensor of `shape`: stride[k] = prod(shape[k+1:]).
Shape contiguous_strides(const Shape& shape);
/// "[2, 3]"
std::string to_string(const Shape& shape);

/// Resolves a possibly negative axis (-1 = last) against `ndim`; throws naming `op` if out of range.
int normalize_axis(const std::string& op, int axis, int ndim);

/// `shape` with leading extents of 1 up to `ndim` dims: how broadcasting aligns it ([3] at 3 dims: [1, 1, 3]).
Shape padded_to(const Shape& shape, size_t ndim);
/// NumPy broadcasting: align trailing dims, each pair equal or one of them 1.
Shape broadcast_shapes(const std::string& op, const Shape& a, const Shape& b);

/// Views the tensor as [outer, shape[axis], inner] around `axis`.
/// A shape cut at one axis: [outer..., n, inner...] seen as [outer, n, inner].
struct AxisSplit {
    /// the products of the extents before the axis (outer) and after it (inner), and the axis's extent (n)
    ///@{
    int64_t outer, n, inner;
    ///@}
};
/// The [outer, n, inner] view of `shape` around `axis` (negative counts from the end).
AxisSplit split_at_axis(const Shape& shape, int axis);

}  // namespace tapegrad
