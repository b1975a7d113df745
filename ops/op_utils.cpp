#include "op_utils.h"

namespace tapegrad {

namespace {
// Input i of `op` is defined, or the error that says which input is not.
void check_defined_at(const char* op, const Tensor& x, size_t i) {
    if (!x.defined()) fail(op, "input {} is an undefined (default-constructed) Tensor", i);
}
}  // namespace

void check_defined(const char* op, std::initializer_list<std::reference_wrapper<const Tensor>> inputs) {
    size_t i = 0;
    for (const Tensor& x : inputs) check_defined_at(op, x, i++);
}

void check_floating(const char* op, const Tensor& x) {
    check_defined(op, {x});
    if (!is_floating(x.dtype())) fail(op, "expected a float32 or float64 tensor, got {}", x.describe());
}

void check_same_dtype_device(const char* op, const std::vector<Tensor>& tensors) {
    for (size_t i = 0; i < tensors.size(); ++i) check_defined_at(op, tensors[i], i);
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
    g.device = c.device();
    if (k == 0) {
        if (beta == 0.0) kernels(c).fill(c, 0.0);
        return;
    }
    kernels(a).gemm(g);
}

}  // namespace tapegrad
