#include "ops/reduce.h"

#include "autograd/tape.h"
#include "ops/op_utils.h"

namespace tapegrad {

namespace {
Shape reduced_shape(const Shape& shape, int axis, bool keepdim) {
    Shape out = shape;
    if (keepdim) out[axis] = 1;
    else out.erase(out.begin() + axis);
    return out;
}

// sum/mean: y = scale * sum_axis x;   dL/dx += scale * broadcast(dL/dy)
Tensor scaled_sum(const char* op, const Tensor& x, int axis, bool keepdim, bool average) {
    const char* formula = average ? "dL/dx += dL/dy / n (broadcast back over the averaged axis)"
                                  : "dL/dx += dL/dy (broadcast back over the summed axis)";
    check_floating(op, x);
    axis = normalize_axis(op, axis, x.dim());
    double scale = average ? 1.0 / double(x.shape()[axis]) : 1.0;
    Shape kept = reduced_shape(x.shape(), axis, true);
    Tensor y = Tensor::zeros(reduced_shape(x.shape(), axis, keepdim), x.dtype(), x.device());
    Tensor y_kept = alias_with_shape(y, kept);
    kernels(x).sum_to(x, y_kept, scale);
    record(op, formula, {x}, y, [kept, scale](const Tensor& gy, InputGrads& gx) {
        InputGrads::Out g = gx.out(0);
        kernels(gy).broadcast_add(alias_with_shape(gy, kept), g.grad, scale, g.accumulate);
    });
    return y;
}

Tensor scaled_sum_all(const char* op, const Tensor& x, bool average) {
    const char* formula = average ? "dL/dx += dL/dy / n (n = the number of elements of x)" : "dL/dx += dL/dy";
    check_floating(op, x);
    Tensor flat = alias_with_shape(x, {x.numel()});
    double scale = average ? 1.0 / double(x.numel()) : 1.0;
    Tensor y = Tensor::zeros({}, x.dtype(), x.device());
    Tensor y_kept = alias_with_shape(y, {1});
    kernels(x).sum_to(flat, y_kept, scale);
    Shape ones(x.dim(), 1);
    record(op, formula, {x}, y, [ones, scale](const Tensor& gy, InputGrads& gx) {
        InputGrads::Out g = gx.out(0);
        kernels(gy).broadcast_add(alias_with_shape(gy, ones), g.grad, scale, g.accumulate);
    });
    return y;
}

// max: y = max_axis x;   dL/dx[argmax] += dL/dy  (ties: the first maximum takes the gradient)
// x is viewed as [outer, n, inner] (the kernels only read its data in that order).
Tensor max_over(const Tensor& x, AxisSplit s, const Shape& out_shape, Tensor* argmax_out) {
    check_floating("max", x);
    if (s.n == 0) fail("max", "cannot take the max over an empty axis of {}", x.describe());
    Tensor values = empty_like(x, out_shape);
    Tensor arg = Tensor::empty(out_shape, DType::Int64, x.device());
    kernels(x).max_axis(x, s.outer, s.n, s.inner, values, arg);
    if (argmax_out) {
        *argmax_out = arg;
        return values;
    }
    record("max", "dL/dx[argmax] += dL/dy", {x}, values, [s, arg](const Tensor& gy, InputGrads& gx) {
        Backend::GatherSpec spec{s.outer, s.n, s.inner, 1, s.inner, 0, 1};
        kernels(gy).scatter_add(gy, arg, spec, gx.out(0, InputGrads::Writes::Part).grad);
    });
    return values;
}
}  // namespace

Tensor sum(const Tensor& x) { return scaled_sum_all("sum", x, false); }
Tensor mean(const Tensor& x) { return scaled_sum_all("mean", x, true); }
Tensor sum(const Tensor& x, int axis, bool keepdim) { return scaled_sum("sum", x, axis, keepdim, false); }
Tensor mean(const Tensor& x, int axis, bool keepdim) { return scaled_sum("mean", x, axis, keepdim, true); }

Tensor max(const Tensor& x) { return max_over(x, {1, x.numel(), 1}, {}, nullptr); }

Tensor max(const Tensor& x, int axis, bool keepdim) {
    axis = normalize_axis("max", axis, x.dim());
    return max_over(x, split_at_axis(x.shape(), axis), reduced_shape(x.shape(), axis, keepdim), nullptr);
}

Tensor argmax(const Tensor& x, int axis) {
    axis = normalize_axis("argmax", axis, x.dim());
    Tensor arg;
    max_over(x, split_at_axis(x.shape(), axis), reduced_shape(x.shape(), axis, false), &arg);
    return arg;
}

}  // namespace tapegrad
