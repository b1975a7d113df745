#include "ops/op_utils.h"

namespace tapegrad {

void check_floating(const char* op, const Tensor& x) {
    if (!is_floating(x.dtype())) fail(op, "expected a float32 or float64 tensor, got {}", x.describe());
}

void check_same_dtype_device(const char* op, const std::vector<Tensor>& tensors) {
    for (size_t i = 1; i < tensors.size(); ++i) {
        if (tensors[i].device() != tensors[0].device())
            fail(op, "inputs are on different devices: input 0 is {}, input {} is {} (move them with to(device))",
                 tensors[0].describe(), i, tensors[i].describe());
        if (tensors[i].dtype() != tensors[0].dtype())
            fail(op, "inputs have different dtypes: input 0 is {}, input {} is {} (convert with to(dtype))",
                 tensors[0].describe(), i, tensors[i].describe());
    }
}

Tensor empty_like(const Tensor& x, const Shape& shape) { return Tensor::empty(shape, x.dtype(), x.device()); }
Tensor empty_like(const Tensor& x) { return empty_like(x, x.shape()); }
Backend& kernels(const Tensor& x) { return backend_for(x.device()); }

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

void pass_gradient(InputGrads& gx, size_t i, const Tensor& gy, const Shape& input_shape) {
    Tensor& slot = gx.all()[i];
    if (!slot.defined() && gy.impl_ptr().use_count() == 1 && gy.impl().storage.use_count() == 1) {
        slot = alias_with_shape(gy, input_shape);
        return;
    }
    InputGrads::Target g = gx.target(i);
    kernels(gy).cast(alias_with_shape(gy, input_shape), g.grad, g.accumulate);
}

void gemm(bool transpose_a, bool transpose_b, const Tensor& a, const Tensor& b, Tensor& c, int64_t m, int64_t n,
          int64_t k, double beta, int64_t batch) {
    if (m == 0 || n == 0) return;
    GemmArgs g;
    g.transpose_a = transpose_a;
    g.transpose_b = transpose_b;
    g.m = m;
    g.n = n;
    g.k = k;
    g.beta = beta;
    g.a = a.raw_data();
    g.b = b.raw_data();
    g.c = c.raw_data();
    g.lda = transpose_a ? m : k;
    g.ldb = transpose_b ? k : n;
    g.ldc = n;
    g.batch = batch;
    g.stride_a = m * k;
    g.stride_b = k * n;
    g.stride_c = m * n;
    g.dtype = a.dtype();
    if (k == 0) {
        if (beta == 0.0) kernels(c).fill(c, 0.0);
        return;
    }
    kernels(a).gemm(g);
}

}  // namespace tapegrad
