// Matrix products, on OpenBLAS (CPU) or cuBLAS (CUDA).
#pragma once
#include <memory>

#include "core/tensor.h"

namespace tapegrad {

// a [M, K] x b [K, N] -> [M, N]
// a [..., M, K] x b [K, N] -> [..., M, N]              (leading dims folded into one big GEMM)
// a [..., M, K] x b [..., K, N] -> [..., M, N]         (batched; leading dims must be equal)
Tensor matmul(const Tensor& a, const Tensor& b);

// The affine map of a Linear layer with PyTorch's weight layout:
// x [..., in], weight [out, in], bias [out] (may be undefined) -> x weight^T + bias  [..., out]
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// The recurrent product of an unrolled loop, with the weight gradient of all steps in ONE GEMM.
//
// A loop of T steps uses one weight U [G, K] at every step t = 0 .. T-1:
//   z_t = a_t + h_t U^T         h_t [N, K], a_t [N, G] or [G] (a bias) or none  ->  z_t [N, G]
//   dL/da_t += dL/dz_t          (summed over the N rows for a bias)
//   dL/dh_t += dL/dz_t U        (in step t's record: the recurrence needs it before step t-1 runs)
//   dL/dU   += Σ_t dL/dz_t^T h_t = dZ^T H,   dZ [T·N, G], H [T·N, K]   (once, after every step)
// linear(h_t, U) per step would compute dL/dU as T small GEMMs, which run at about half the speed
// of one big one. Here each step's record saves h_t into H (forward) and dL/dz_t into dZ
// (backward), and one record made by the constructor, BEFORE the first step, does the big GEMM: the
// tape runs backward in reverse order of recording, so it runs after every step's record. Its
// output is U itself (a view), which each step takes as an input so that backward reaches it.
class RecurrentLinear {
public:
    // weight U [G, K]; steps: the most steps the loop will run.
    RecurrentLinear(const Tensor& weight, int64_t steps);
    // z_t = a + h U^T for the next step (t = 0, 1, ... in call order); `a` may be undefined.
    Tensor step(const Tensor& a, const Tensor& h);

    struct State;

private:
    std::shared_ptr<State> state_;
};

}  // namespace tapegrad
