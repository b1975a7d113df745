#include "elementwise.h"

#include "../autograd/tape.h"
#include "op_utils.h"

namespace tapegrad {

// ---- unary: y = f(x);  dL/dx += dL/dy ⊙ f'(x)   (f and f' in the op's rule) ---------------------

Tensor unary(UnaryOp op, const Tensor& x, double scalar) {
    check_floating(to_string(op), x);
    Tensor y = empty_like(x);
    kernels(x).unary(op, scalar, x, y);
    record(to_string(op), UnaryRules::formula(int(op)), {x}, y, [op, scalar, x, y](const Tensor& gy, InputGrads& gx) {
        InputGrads::Out g = gx.out(0);
        kernels(x).unary_backward(op, scalar, x, y, gy, g.grad, g.accumulate);
    });
    return y;
}

// ---- binary: y = a (op) b with broadcasting ---------------------------------------------------
//   dL/da += dL/dy ⊙ ∂y/∂a summed over a's broadcast dims, and the same for b.

namespace {
// dL/da and dL/db of y = a (op) b, broadcast per `plan` over dL/dy's shape, into inputs first and
// first + 1: one kernel for both, which sums the gradient of an operand that was broadcast.
void binary_grads(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, const Tensor& gy,
                  InputGrads& gx, size_t first) {
    Backend::OperandGrad grads[2];
    for (int operand = 0; operand < 2; ++operand) {
        if (!gx.needed(first + operand)) continue;
        InputGrads::Out g = gx.out(first + operand);
        grads[operand] = {&g.grad, g.accumulate};
    }
    kernels(gy).binary_backward(op, plan, a, b, gy, grads[0], grads[1]);
}
}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
    const char* name = to_string(op);
    check_floating(name, a);
    check_floating(name, b);
    check_same_dtype_device(name, {a, b});
    Shape out_shape = broadcast_shapes(name, a.shape(), b.shape());
    BroadcastPlan plan = broadcast_plan(a.shape(), b.shape(), out_shape);
    Tensor y = empty_like(a, out_shape);
    kernels(a).binary(op, plan, a, b, y);
    record(name, BinaryRules::formula(int(op)), {a, b}, y, [op, plan, a, b](const Tensor& gy, InputGrads& gx) {
        binary_grads(op, plan, a, b, gy, gx, 0);
    });
    return y;
}

// y = a + b * c, all three broadcast to one shape (torch.addcmul)
//   dL/da += sum(dL/dy)      dL/db += sum(dL/dy * c)      dL/dc += sum(dL/dy * b)
// (each summed over the dims that operand was repeated along). One op, not mul then add: the
// product b * c is never a tensor of its own, so a recurrent step that blends states
// (c' = i ⊙ g + f ⊙ c = addcmul(i * g, f, c)) writes and saves one tensor instead of two.
Tensor addcmul(const Tensor& a, const Tensor& b, const Tensor& c) {
    check_floating("addcmul", a);
    check_floating("addcmul", b);
    check_floating("addcmul", c);
    check_same_dtype_device("addcmul", {a, b, c});
    Shape out_shape = broadcast_shapes("addcmul", a.shape(), broadcast_shapes("addcmul", b.shape(), c.shape()));
    BroadcastPlan plan = broadcast_plan(b.shape(), c.shape(), out_shape);
    Tensor y = empty_like(b, out_shape);
    kernels(b).binary(binary_op<rules::Mul>, plan, b, c, y);
    kernels(b).broadcast_add(alias_with_shape(a, padded_to(a.shape(), out_shape.size())), y, 1.0, true);  // y is still in cache
    record("addcmul", "dL/da += dL/dy;  dL/db += dL/dy ⊙ c;  dL/dc += dL/dy ⊙ b", {a, b, c}, y,
           [plan, b, c](const Tensor& gy, InputGrads& gx) {
               binary_grads(binary_op<rules::Mul>, plan, b, c, gy, gx, 1);
               gx.add(0, gy);  // last: the engine may take gy's buffer over
           });
    return y;
}

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
    check_same_dtype_device("where", {condition, a, b});
    return addcmul(b, condition, a - b);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
    check_floating("masked_fill", x);
    return where(mask, Tensor::full({}, value, x.dtype(), x.device()), x);
}

Tensor clamp(const Tensor& x, double low, double high) {
    check_floating("clamp", x);
    if (!(low <= high)) fail("clamp", "low = {} is above high = {} (expected low <= high)", low, high);
    const Tensor lo = Tensor::full({}, low, x.dtype(), x.device()), hi = Tensor::full({}, high, x.dtype(), x.device());
    return masked_fill(masked_fill(x, lt(x, lo), low), gt(x, hi), high);
}

Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& x, double s) { return add_scalar(x, s); }
Tensor operator+(double s, const Tensor& x) { return add_scalar(x, s); }
Tensor operator-(const Tensor& x, double s) { return add_scalar(x, -s); }
Tensor operator-(double s, const Tensor& x) { return add_scalar(neg(x), s); }
Tensor operator*(const Tensor& x, double s) { return mul_scalar(x, s); }
Tensor operator*(double s, const Tensor& x) { return mul_scalar(x, s); }
Tensor operator/(const Tensor& x, double s) { return mul_scalar(x, 1.0 / s); }
Tensor operator/(double s, const Tensor& x) { return mul_scalar(pow(x, -1.0), s); }

}  // namespace tapegrad
