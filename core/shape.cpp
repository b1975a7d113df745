#include "shape.h"

#include "error.h"

namespace tapegrad {

bool numel_fits(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape)
        if (__builtin_mul_overflow(n, d, &n)) return false;
    return true;
}

int64_t numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape)
        if (__builtin_mul_overflow(n, d, &n))
            fail("shape", "{} has more elements than fit in 64 bits", to_string(shape));
    return n;
}

int64_t leading_rows(const Shape& shape) {
    return shape.empty() ? 1 : numel(Shape(shape.begin(), shape.end() - 1));
}

Shape contiguous_strides(const Shape& shape) {
    Shape strides(shape.size());
    int64_t s = 1;
    for (int i = int(shape.size()) - 1; i >= 0; --i) {
        strides[i] = s;
        if (__builtin_mul_overflow(s, shape[i], &s))
            fail("shape", "{} has more elements than fit in 64 bits", to_string(shape));
    }
    return strides;
}

std::string to_string(const Shape& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

int normalize_axis(const std::string& op, int axis, int ndim) {
    int resolved = axis < 0 ? axis + ndim : axis;
    if (resolved < 0 || resolved >= ndim)
        fail(op, "axis {} is out of range for a tensor with {} dims (expected -{} <= axis < {})", axis, ndim,
             ndim, ndim);
    return resolved;
}

Shape padded_to(const Shape& shape, size_t ndim) {
    Shape padded(ndim - shape.size(), 1);
    padded.insert(padded.end(), shape.begin(), shape.end());
    return padded;
}

Shape broadcast_shapes(const std::string& op, const Shape& a, const Shape& b) {
    size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
        int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
        if (da != db && da != 1 && db != 1)
            fail(op, "shapes {} and {} cannot be broadcast (dim {} is {} vs {}; each pair must be equal or 1)",
                 to_string(a), to_string(b), i, da, db);
        out[i] = da == 1 ? db : da;  // the standard rule: an extent of 1 takes the other's, 0 included
    }
    return out;
}

AxisSplit split_at_axis(const Shape& shape, int axis) {
    AxisSplit s{1, shape[axis], 1};
    for (int i = 0; i < axis; ++i) s.outer *= shape[i];
    for (size_t i = axis + 1; i < shape.size(); ++i) s.inner *= shape[i];
    return s;
}

}  // namespace tapegrad
