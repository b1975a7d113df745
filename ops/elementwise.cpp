#include "ops/elementwise.h"

#include "autograd/tape.h"
#include "ops/op_utils.h"

namespace tapegrad {

// ---- unary: y = f(x);  dL/dx += dL/dy * f'(x)   (formulas in core/elementwise_math.h) ----------

namespace {
Tensor unary(UnaryOp op, const Tensor& x, double scalar = 0.0) {
    check_floating(to_string(op), x);
    Tensor y = empty_like(x);
    kernels(x).unary(op, scalar, x, y);
    record(to_string(op), {x}, y, [op, scalar, x, y](const Tensor& gy, InputGrads& gx) {
        InputGrads::Target g = gx.target(0);
        kernels(x).unary_backward(op, scalar, x, y, gy, g.grad, g.accumulate);
    });
    return y;
}
}  // namespace

Tensor neg(const Tensor& x) { return unary(UnaryOp::Neg, x); }
Tensor exp(const Tensor& x) { return unary(UnaryOp::Exp, x); }
Tensor log(const Tensor& x) { return unary(UnaryOp::Log, x); }
Tensor tanh(const Tensor& x) { return unary(UnaryOp::Tanh, x); }
Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::Sigmoid, x); }
Tensor relu(const Tensor& x) { return unary(UnaryOp::Relu, x); }
Tensor sqrt(const Tensor& x) { return unary(UnaryOp::Sqrt, x); }
Tensor pow(const Tensor& x, double exponent) { return unary(UnaryOp::Pow, x, exponent); }
Tensor add_scalar(const Tensor& x, double value) { return unary(UnaryOp::AddScalar, x, value); }
Tensor mul_scalar(const Tensor& x, double value) { return unary(UnaryOp::MulScalar, x, value); }

// ---- binary: y = a (op) b with broadcasting --------------------------------------------------
//   dL/da += sum over a's broadcast dims of (dL/dy * dy/da), and the same for b.

namespace {
// Reduces an output-shaped gradient to `target`'s shape and accumulates it there, times `scale`.
void sum_into(const Tensor& full, Tensor& target, double scale = 1.0) {
    Shape padded(full.dim() - target.dim(), 1);
    padded.insert(padded.end(), target.shape().begin(), target.shape().end());
    Tensor view = alias_with_shape(target, padded);
    kernels(full).sum_to(full, view, scale);
}

// Accumulates dL/da and dL/db of y = a (op) b, broadcast per `plan` over dL/dy's shape, into
// gx.at(first) and gx.at(first + 1).
void binary_grads(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, const Tensor& gy,
                  InputGrads& gx, size_t first) {
    Backend::OperandGrad grads[2];
    for (int operand = 0; operand < 2; ++operand) {
        if (!gx.needed(first + operand)) continue;
        const Tensor& input = operand == 0 ? a : b;
        if (input.shape() == gy.shape()) {
            InputGrads::Target g = gx.target(first + operand);
            grads[operand] = {&g.grad, g.accumulate};
        } else if (op == BinaryOp::Add || op == BinaryOp::Sub) {
            // d(a ± b)/d(operand) = ±1: reduce dL/dy itself.
            sum_into(gy, gx.at(first + operand), op == BinaryOp::Sub && operand == 1 ? -1.0 : 1.0);
        } else {
            // Summed over the broadcast dims inside the kernel: no output-shaped temporary.
            grads[operand] = {&gx.at(first + operand), true};
        }
    }
    if (grads[0].grad || grads[1].grad) kernels(gy).binary_backward(op, plan, a, b, gy, grads[0], grads[1]);
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
    const char* name = to_string(op);
    check_floating(name, a);
    check_floating(name, b);
    check_same_dtype_device(name, {a, b});
    Shape out_shape = broadcast_shapes(name, a.shape(), b.shape());
    BroadcastPlan plan = broadcast_plan(a.shape(), b.shape(), out_shape);
    Tensor y = empty_like(a, out_shape);
    kernels(a).binary(op, plan, a, b, y);
    record(name, {a, b}, y, [op, plan, a, b](const Tensor& gy, InputGrads& gx) {
        binary_grads(op, plan, a, b, gy, gx, 0);
    });
    return y;
}
}  // namespace

// y = a + b * c, all three broadcast to one shape (torch.addcmul)
//   dL/da += sum(dL/dy)      dL/db += sum(dL/dy * c)      dL/dc += sum(dL/dy * b)
// (each summed over the dims that operand was repeated along). One op, not mul then add: the
// product b * c is never a tensor of its own, so a recurrent step that blends states
// (c' = f * c + i * g = addcmul(f * c, i, g)) writes and saves one tensor instead of two.
Tensor addcmul(const Tensor& a, const Tensor& b, const Tensor& c) {
    check_floating("addcmul", a);
    check_floating("addcmul", b);
    check_floating("addcmul", c);
    check_same_dtype_device("addcmul", {a, b, c});
    Shape out_shape = broadcast_shapes("addcmul", a.shape(), broadcast_shapes("addcmul", b.shape(), c.shape()));
    BroadcastPlan plan = broadcast_plan(b.shape(), c.shape(), out_shape);
    Tensor y = empty_like(b, out_shape);
    kernels(b).binary(BinaryOp::Mul, plan, b, c, y);
    Shape a_padded(out_shape.size() - a.shape().size(), 1);
    a_padded.insert(a_padded.end(), a.shape().begin(), a.shape().end());
    kernels(b).broadcast_add(alias_with_shape(a, a_padded), y, 1.0, true);  // y is still in cache
    record("addcmul", {a, b, c}, y, [plan, a, b, c](const Tensor& gy, InputGrads& gx) {
        if (gx.needed(0)) {
            if (a.shape() == gy.shape()) {  // dL/da = dL/dy
                pass_gradient(gx, 0, gy, a.shape());
            } else {
                sum_into(gy, gx.at(0));
            }
        }
        binary_grads(BinaryOp::Mul, plan, b, c, gy, gx, 1);
    });
    return y;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }
Tensor bce_with_logits_elementwise(const Tensor& logits, const Tensor& targets) {
    return binary(BinaryOp::BceWithLogits, logits, targets);
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
