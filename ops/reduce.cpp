#include "reduce.h"

#include <limits>
#include <optional>

#include "../autograd/tape.h"
#include "elementwise.h"
#include "op_utils.h"
#include "shape_ops.h"

namespace tapegrad {

namespace {
Shape reduced_shape(const Shape& shape, int axis, bool keepdim) {
    Shape out = shape;
    if (keepdim) out[axis] = 1;
    else out.erase(out.begin() + axis);
    return out;
}

// sum/mean: y = scale * sum_axis x;   dL/dx += scale * broadcast(dL/dy)
// The mean over n = 0 elements is 0 / 0 = NaN (as PyTorch's); the sum over none is 0.
double reduction_scale(bool average, int64_t n) {
    if (!average) return 1.0;
    return n > 0 ? 1.0 / double(n) : std::numeric_limits<double>::quiet_NaN();
}

// y: sum_axis x already written, over an axis of n elements; the mean of nothing is NaN.
void finish_empty_mean(Tensor& y, bool average, int64_t n) {
    if (average && n == 0) y = Tensor::full(y.shape(), std::numeric_limits<double>::quiet_NaN(), y.dtype(), y.device());
}

Tensor scaled_sum(const char* op, const Tensor& x, int axis, bool keepdim, bool average) {
    const char* formula = average ? "dL/dx += dL/dy / n (broadcast back over the averaged axis)"
                                  : "dL/dx += dL/dy (broadcast back over the summed axis)";
    check_floating(op, x);
    axis = normalize_axis(op, axis, x.dim());
    const int64_t n = x.shape()[axis];
    double scale = reduction_scale(average, n);
    Shape kept = reduced_shape(x.shape(), axis, true);
    Tensor y = Tensor::zeros(reduced_shape(x.shape(), axis, keepdim), x.dtype(), x.device());
    Tensor y_kept = alias_with_shape(y, kept);
    kernels(x).sum_to(x, y_kept, scale);
    finish_empty_mean(y, average, n);
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
    double scale = reduction_scale(average, x.numel());
    Tensor y = Tensor::zeros({}, x.dtype(), x.device());
    Tensor y_kept = alias_with_shape(y, {1});
    kernels(x).sum_to(flat, y_kept, scale);
    finish_empty_mean(y, average, x.numel());
    Shape ones(x.dim(), 1);
    record(op, formula, {x}, y, [ones, scale](const Tensor& gy, InputGrads& gx) {
        InputGrads::Out g = gx.out(0);
        kernels(gy).broadcast_add(alias_with_shape(gy, ones), g.grad, scale, g.accumulate);
    });
    return y;
}

// max: y = max_axis x;   dL/dx[argmax] += dL/dy  (ties: the first maximum takes the gradient)
// x is viewed as [outer, n, inner] (the kernels only read its data in that order).
// `op` is the caller's (max or argmax), for its errors.
Tensor max_over(const char* op, const Tensor& x, AxisSplit s, const Shape& out_shape, Tensor* argmax_out) {
    check_floating(op, x);
    if (s.n == 0) fail(op, "cannot take the max over an empty axis of {}", x.describe());
    Tensor values = empty_like(x, out_shape);
    Tensor arg = Tensor::empty(out_shape, DType::Int64, x.device());
    kernels(x).max_axis(x, s.outer, s.n, s.inner, values, arg);
    if (argmax_out) {
        *argmax_out = arg;
        return values;
    }
    record("max", "dL/dx[argmax] += dL/dy", {x}, values, [s, arg](const Tensor& gy, InputGrads& gx) {
        Backend::GatherSpec spec{s.outer, s.n, s.inner, 1, s.inner, 0, 1, "max"};
        kernels(gy).scatter_add(gy, arg, spec, gx.out(0, InputGrads::Writes::Part).grad);
    });
    return values;
}
}  // namespace

Tensor sum(const Tensor& x) { return scaled_sum_all("sum", x, false); }
Tensor mean(const Tensor& x) { return scaled_sum_all("mean", x, true); }
Tensor sum(const Tensor& x, int axis, bool keepdim) { return scaled_sum("sum", x, axis, keepdim, false); }
Tensor mean(const Tensor& x, int axis, bool keepdim) { return scaled_sum("mean", x, axis, keepdim, true); }

Tensor max(const Tensor& x) {
    check_defined("max", {x});
    return max_over("max", x, {1, x.numel(), 1}, {}, nullptr);
}

Tensor max(const Tensor& x, int axis, bool keepdim) {
    check_defined("max", {x});
    axis = normalize_axis("max", axis, x.dim());
    return max_over("max", x, split_at_axis(x.shape(), axis), reduced_shape(x.shape(), axis, keepdim), nullptr);
}

// min: y = −max(−x), composed: the gradient flows to the first minimum, as max's to the first maximum.
Tensor min(const Tensor& x) {
    check_floating("min", x);
    if (x.numel() == 0) fail("min", "cannot take the min of an empty tensor {}", x.describe());
    return neg(max(neg(x)));
}

Tensor min(const Tensor& x, int axis, bool keepdim) {
    check_floating("min", x);
    const int a = normalize_axis("min", axis, x.dim());
    if (x.shape()[a] == 0) fail("min", "cannot take the min over an empty axis of {}", x.describe());
    return neg(max(neg(x), a, keepdim));
}

// var: Σ (x − mean)² / d over the axis, d = n − 1 (unbiased) or n; composed of mean, sub, mul, sum.
Tensor var(const Tensor& x, int axis, bool unbiased, bool keepdim) {
    check_floating("var", x);
    axis = normalize_axis("var", axis, x.dim());
    const int64_t divisor = unbiased ? x.shape()[axis] - 1 : x.shape()[axis];
    Tensor centered = x - mean(x, axis, true);
    return sum(centered * centered, axis, keepdim) *
           (divisor > 0 ? 1.0 / double(divisor) : std::numeric_limits<double>::quiet_NaN());
}

Tensor stddev(const Tensor& x, int axis, bool unbiased, bool keepdim) {
    check_floating("stddev", x);
    return sqrt(var(x, axis, unbiased, keepdim));
}

namespace {
// The norm of x's elements along `axis` (every element when axis is nullopt), p checked.
//   p = 1:   y = Σ |x|             composed: dL/dx += dL/dy ⊙ sign(x)
//   p = inf: y = max |x|           composed: dL/dx[first argmax |x|] += dL/dy ⊙ sign(x)
//   p = 2:   y = sqrt(Σ x²)        its own record: dL/dx += dL/dy ⊙ x / y, 0 where y = 0. Composed
//            as sqrt(sum(x * x)) it would be inf ⊙ 0 = NaN at x = 0 (sqrt's slope at 0 is inf).
Tensor p_norm(const Tensor& x, double p, std::optional<int> axis, bool keepdim) {
    check_floating("norm", x);
    if (p != 1 && p != 2 && p != std::numeric_limits<double>::infinity())
        fail("norm", "p = {} is not supported (expected 1, 2 or inf)", p);
    if (axis) axis = normalize_axis("norm", *axis, x.dim());
    const int64_t n = axis ? x.shape()[*axis] : x.numel();
    if (p == 1) return axis ? sum(abs(x), *axis, keepdim) : sum(abs(x));
    if (p != 2) {
        if (n == 0) fail("norm", "cannot take the inf-norm (the largest |x|) of no elements: {}", x.describe());
        return axis ? max(abs(x), *axis, keepdim) : max(abs(x));
    }
    Tensor y, y_kept;  // y_kept: y with the reduced axis kept as extent 1 (all axes, for all elements)
    {
        NoGrad no_grad;
        Tensor x2 = x * x;
        y_kept = sqrt(axis ? sum(x2, *axis, true) : reshape(sum(x2), Shape(x.dim(), 1)));
        y = axis ? (keepdim ? y_kept : squeeze(y_kept, *axis)) : reshape(y_kept, {});
    }
    const Shape kept = y_kept.shape();
    record("norm", "dL/dx += dL/dy ⊙ x / ‖x‖ (0 where ‖x‖ = 0)", {x}, y, [x, y_kept, kept](const Tensor& gy, InputGrads& gx) {
        Tensor safe_norm = masked_fill(y_kept, eq(y_kept, Tensor::zeros({}, y_kept.dtype(), y_kept.device())), 1.0);
        gx.add(0, reshape(gy, kept) * (x / safe_norm));  // where ‖x‖ = 0 every x is 0: the gradient is 0
    });
    return y;
}
}  // namespace

Tensor norm(const Tensor& x, double p) { return p_norm(x, p, std::nullopt, false); }
Tensor norm(const Tensor& x, double p, int axis, bool keepdim) { return p_norm(x, p, axis, keepdim); }

Tensor argmax(const Tensor& x, int axis) {
    check_defined("argmax", {x});
    axis = normalize_axis("argmax", axis, x.dim());
    Tensor arg;
    max_over("argmax", x, split_at_axis(x.shape(), axis), reduced_shape(x.shape(), axis, false), &arg);
    return arg;
}

}  // namespace tapegrad
