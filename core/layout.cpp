#include "layout.h"

namespace tapegrad {

namespace {
// Strides of `operand` (right-aligned against `out`), 0 along the dims it is broadcast in.
StridedLayout broadcast_strides(const Shape& operand, const Shape& out) {
    StridedLayout l;
    l.ndim = int(out.size());
    Shape strides = contiguous_strides(operand);
    size_t lead = out.size() - operand.size();
    for (size_t k = 0; k < out.size(); ++k) {
        l.shape[k] = out[k];
        l.stride[k] = k < lead || operand[k - lead] == 1 ? 0 : strides[k - lead];
    }
    return l;
}
}  // namespace

BroadcastPlan broadcast_plan(const Shape& a, const Shape& b, const Shape& out) {
    BroadcastPlan plan;
    plan.a = broadcast_strides(a, out);
    plan.b = broadcast_strides(b, out);
    plan.numel = numel(out);
    plan.same_shape = a == out && b == out;
    return plan;
}

StridedLayout contiguous_layout(const Shape& shape) {
    StridedLayout l;
    l.ndim = int(shape.size());
    Shape strides = contiguous_strides(shape);
    for (int k = 0; k < l.ndim; ++k) {
        l.shape[k] = shape[k];
        l.stride[k] = strides[k];
    }
    return l;
}

StridedLayout permuted_layout(const Shape& source, const std::vector<int>& perm) {
    StridedLayout l;
    l.ndim = int(source.size());
    Shape strides = contiguous_strides(source);
    for (int k = 0; k < l.ndim; ++k) {
        l.shape[k] = source[perm[k]];
        l.stride[k] = strides[perm[k]];
    }
    return l;
}

StridedLayout broadcast_layout(const Tensor& y, const Tensor& x) {
    StridedLayout l;
    l.ndim = x.dim();
    Shape y_strides = contiguous_strides(y.shape());
    for (int k = 0; k < l.ndim; ++k) {
        l.shape[k] = x.shape()[k];
        l.stride[k] = y.shape()[k] == 1 && x.shape()[k] != 1 ? 0 : y_strides[k];
    }
    return l;
}

Tensor alias_with_shape(const Tensor& x, const Shape& shape, int64_t offset) {
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = shape;
    impl->dtype = x.dtype();
    impl->storage = x.impl().storage;
    impl->offset = x.impl().offset + offset;
    return Tensor(std::move(impl));
}

}  // namespace tapegrad
