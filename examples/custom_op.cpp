// A user's own op, written with the public API only: the forward values, then one record() with
// the gradient the op adds to its input. docs/TUTORIAL.md walks through it; tests/test_autograd.cpp
// gradchecks the same op.
//
//   build/examples/custom_op
//
// The op is the softsign s(x) = x / (1 + |x|), whose gradient is ds/dx = 1 / (1 + |x|)².
#include <cmath>
#include <cstdio>

#include "tapegrad.h"

using namespace tapegrad;

// y = x / (1 + |x|)   elementwise;   dL/dx += dL/dy ⊙ 1 / (1 + |x|)²
Tensor softsign(const Tensor& x) {
    Tensor denominator;  // 1 + |x|, kept for the backward pass
    Tensor y;
    {
        NoGrad no_grad;  // the forward's own ops stay off the tape: the op is one record
        denominator = abs(x) + 1.0;
        y = x / denominator;
    }
    // The backward function adds dL/dx through gx.add: the engine decides whether that gradient is
    // a fresh buffer or one a second use of x already filled (the one way, always right).
    record("softsign", "dL/dx += dL/dy ⊙ 1 / (1 + |x|)²", {x}, y, [denominator](const Tensor& gy, InputGrads& gx) {
        gx.add(0, gy / (denominator * denominator));
    });
    return y;
}

int main() {
    Generator gen(1);
    Tensor x = Tensor::uniform({3, 4}, -2.0, 2.0, gen, DType::Float64).set_requires_grad();

    // x used three times (two softsigns and the sum): its gradient adds all three paths, as for
    // any built-in op: dL/dx = 2 s(x) s'(x) + 1.
    Tensor loss = sum(softsign(x) * softsign(x) + x);
    backward(loss);
    std::printf("loss %.6f, dL/dx[0] %.6f\n", loss.item(), x.grad().to_double_vector()[0]);

    // The float64 finite-difference check every built-in op passes.
    GradcheckResult check = gradcheck([](const std::vector<Tensor>& v) { return softsign(v[0]) * softsign(v[0]) + v[0]; }, {x});
    std::printf("gradcheck: %s (%lld values checked)\n", check.ok ? "ok" : check.message.c_str(), (long long)check.checked);
    return check.ok ? 0 : 1;
}
