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

}  // namespace tapegrad
