#include "nn.h"

#include "../autograd/tape.h"
#include "elementwise.h"
#include "op_utils.h"
#include "reduce.h"
#include "shape_ops.h"

namespace tapegrad {

namespace {
// y = softmax or log_softmax over the middle axis of [outer, n, inner]
//   softmax:     dL/dx += y (dL/dy - sum_j dL/dy_j y_j)
//   log_softmax: dL/dx += dL/dy - softmax(x) sum_j dL/dy_j
Tensor softmax_op(const char* op, const char* formula, const Tensor& x, int axis, bool log) {
    check_floating(op, x);
    axis = normalize_axis(op, axis, x.dim());
    AxisSplit s = split_at_axis(x.shape(), axis);
    Tensor y = empty_like(x);
    kernels(x).softmax(x, s.outer, s.n, s.inner, log, y);
    record(op, formula, {x}, y, [y, s, log](const Tensor& gy, InputGrads& gx) {
        kernels(gy).softmax_backward(y, gy, s.outer, s.n, s.inner, log, gx.out(0, InputGrads::Writes::Part).grad);
    });
    return y;
}
}  // namespace

Tensor softmax(const Tensor& x, int axis) {
    return softmax_op("softmax", "dL/dx += y ⊙ (dL/dy − Σ dL/dy ⊙ y)", x, axis, false);
}
Tensor log_softmax(const Tensor& x, int axis) {
    return softmax_op("log_softmax", "dL/dx += dL/dy − e^y Σ dL/dy", x, axis, true);
}

// L = -mean_n log_softmax(logits)[n, target_n], composed of log_softmax, gather and mean.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets) {
    check_defined("cross_entropy", {logits, targets});
    check_floating("cross_entropy", logits);
    Shape expected(logits.shape().begin(), logits.shape().end() - (logits.dim() > 0 ? 1 : 0));
    if (logits.dim() < 1 || targets.shape() != expected)
        fail("cross_entropy", "logits are {} and targets {} (expected logits [..., C] and int64 targets {})",
             logits.describe(), targets.describe(), to_string(expected));
    check_indices("cross_entropy", targets, logits.shape().back(), logits);
    return -mean(gather(log_softmax(logits, -1), -1, targets));
}

Tensor one_hot(const Tensor& indices, int64_t classes, DType dtype) {
    check_defined("one_hot", {indices});
    if (classes < 1) fail("one_hot", "classes = {} (expected classes >= 1)", classes);
    if (!is_floating(dtype)) fail("one_hot", "dtype {} (expected float32 or float64)", to_string(dtype));
    check_indices("one_hot", indices, classes, indices);
    // Built on the host, the size of the result (not a [classes, classes] table to gather from).
    const std::vector<int64_t> ids = indices.to_vector<int64_t>();
    if (!indices.device().is_cpu()) check_index_values("one_hot", ids, classes, indices);  // no kernel reads them
    std::vector<double> values(ids.size() * size_t(classes), 0.0);
    for (size_t i = 0; i < ids.size(); ++i) values[i * size_t(classes) + size_t(ids[i])] = 1.0;
    Shape shape = indices.shape();
    shape.push_back(classes);
    return to(Tensor::from_values(values, shape, dtype), indices.device());
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets) {
    return mean(bce_with_logits_elementwise(logits, targets));
}

// y = x ⊙ mask, mask = 1/(1 - p) with probability 1 - p, else 0;   dL/dx += dL/dy ⊙ mask
Tensor dropout(const Tensor& x, double p, Generator& gen, bool training) {
    check_floating("dropout", x);
    if (!(p >= 0.0 && p < 1.0)) fail("dropout", "probability p = {} is out of range (expected 0 <= p < 1)", p);
    if (!training || p == 0.0) return x;
    Tensor mask = empty_like(x);
    kernels(x).dropout_mask(mask, p, gen.seed(), gen.take(x.numel()));
    BroadcastPlan plan = broadcast_plan(x.shape(), x.shape(), x.shape());
    Tensor y = empty_like(x);
    kernels(x).binary(binary_op<rules::Mul>, plan, x, mask, y);
    record("dropout", "dL/dx += dL/dy ⊙ mask", {x}, y, [plan, x, mask](const Tensor& gy, InputGrads& gx) {
        InputGrads::Out g = gx.out(0);
        kernels(gy).binary_backward(binary_op<rules::Mul>, plan, x, mask, gy, {&g.grad, g.accumulate}, {});
    });
    return y;
}

}  // namespace tapegrad
