#include "linalg.h"

#include "../autograd/tape.h"
#include "op_utils.h"

namespace tapegrad {

namespace {
void check_matrix_inputs(const char* op, const Tensor& a, const Tensor& b) {
    check_floating(op, a);
    check_floating(op, b);
    check_same_dtype_device(op, {a, b});
}
}  // namespace

// y = a b
//   dL/da += dL/dy b^T      dL/db += a^T dL/dy       (per batch for batched products)
constexpr const char* kMatmulFormula = "dL/da += dL/dy bᵀ;  dL/db += aᵀ dL/dy";
Tensor matmul(const Tensor& a, const Tensor& b) {
    check_matrix_inputs("matmul", a, b);
    if (a.dim() < 2 || b.dim() < 2)
        fail("matmul", "expected matrices (at least 2 dims), got a {} and b {}", a.describe(), b.describe());
    int64_t m = a.shape()[a.dim() - 2], k = a.shape()[a.dim() - 1];
    int64_t kb = b.shape()[b.dim() - 2], n = b.shape()[b.dim() - 1];
    if (k != kb)
        fail("matmul", "inner dimensions differ: a is {}, b is {} (a.shape[-1] must equal b.shape[-2])",
             to_string(a.shape()), to_string(b.shape()));
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    out_shape.push_back(n);

    if (b.dim() == 2) {
        // Fold every leading dim of a into M: one [rows, K] x [K, N] GEMM.
        int64_t rows = leading_rows(a.shape());
        Tensor y = empty_like(a, out_shape);
        gemm(false, false, a, b, y, rows, n, k, 0.0);
        record("matmul", kMatmulFormula, {a, b}, y, [a, b, rows, n, k](const Tensor& gy, InputGrads& gx) {
            into(gx, 0, [&](Tensor& g, double beta) { gemm(false, true, gy, b, g, rows, k, n, beta); });
            into(gx, 1, [&](Tensor& g, double beta) { gemm(true, false, a, gy, g, k, n, rows, beta); });
        });
        return y;
    }
    Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
    if (batch_a != batch_b)
        fail("matmul", "batch dimensions differ: a is {}, b is {} (leading dims must be equal)",
             to_string(a.shape()), to_string(b.shape()));
    int64_t batch = numel(batch_a);
    Tensor y = empty_like(a, out_shape);
    gemm(false, false, a, b, y, m, n, k, 0.0, batch);
    record("matmul", kMatmulFormula, {a, b}, y, [a, b, m, n, k, batch](const Tensor& gy, InputGrads& gx) {
        into(gx, 0, [&](Tensor& g, double beta) { gemm(false, true, gy, b, g, m, k, n, beta, batch); });
        into(gx, 1, [&](Tensor& g, double beta) { gemm(true, false, a, gy, g, k, n, m, beta, batch); });
    });
    return y;
}

// y = x W^T + b      x: [N, in] (leading dims folded into N), W: [out, in], b: [out]
//   dL/dx += dL/dy W      dL/dW += dL/dy^T x      dL/db += sum_N dL/dy
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    check_matrix_inputs("linear", x, weight);
    if (weight.dim() != 2 || x.dim() < 1)
        fail("linear", "expected x [..., in] and weight [out, in], got x {} and weight {}", x.describe(),
             weight.describe());
    int64_t in = weight.shape()[1], out = weight.shape()[0];
    if (x.shape().back() != in)
        fail("linear", "x is {} but weight is {} (x.shape[-1] must equal weight.shape[1])", to_string(x.shape()),
             to_string(weight.shape()));
    if (bias.defined()) {
        check_matrix_inputs("linear", x, bias);
        if (bias.shape() != Shape{out})
            fail("linear", "bias is {} but weight is {} (expected bias [{}])", to_string(bias.shape()),
                 to_string(weight.shape()), out);
    }
    int64_t rows = leading_rows(x.shape());
    Shape out_shape = x.shape();
    out_shape.back() = out;
    Tensor y = empty_like(x, out_shape);
    gemm(false, true, x, weight, y, rows, out, in, 0.0);
    Tensor y_rows = alias_with_shape(y, {rows, out});
    if (bias.defined()) kernels(x).broadcast_add(alias_with_shape(bias, {1, out}), y_rows, 1.0, true);

    std::vector<Tensor> inputs = {x, weight};
    if (bias.defined()) inputs.push_back(bias);
    const char* formula = bias.defined() ? "dL/dx += dL/dy W;  dL/dW += dL/dyᵀ x;  dL/db += Σ_rows dL/dy"
                                         : "dL/dx += dL/dy W;  dL/dW += dL/dyᵀ x";
    record("linear", formula, inputs, y, [x, weight, rows, in, out, has_bias = bias.defined()](const Tensor& gy, InputGrads& gx) {
        into(gx, 0, [&](Tensor& g, double beta) { gemm(false, false, gy, weight, g, rows, in, out, beta); });
        into(gx, 1, [&](Tensor& g, double beta) { gemm(true, false, gy, x, g, out, in, rows, beta); });
        if (has_bias) gx.add(2, gy);  // dL/db: dL/dy summed over its rows
    });
    return y;
}

}  // namespace tapegrad
