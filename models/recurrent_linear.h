/// \file
/// RecurrentLinear: the fast schedule's recurrent product (models/schedule.h), an op on the tape.
#pragma once
#include <memory>

#include "../core/tensor.h"

namespace tapegrad {

/// The linear part of an unrolled recurrence, with the gradients of the weight and of the added
/// terms of ALL steps computed once, after the loop.
///
/// A loop of T steps uses one weight U [G, K] at every step t = 0 .. T-1:
///   z_t = A_t + b + h_t U^T   h_t [N, K] -> z_t [N, G];  A: the hoisted input projections
///                             [T, N, G] (A_t = A[t]) or none; b: a bias [G] or none
///   dL/dh_t += dL/dz_t U                      (in step t's record: step t-1 needs it next)
///   dL/dA_t += dL/dz_t
///   dL/db   += Σ_t Σ_rows dL/dz_t
///   dL/dU   += Σ_t dL/dz_t^T h_t = dZ^T H,   dZ [T·N, G], H [T·N, K]   (one GEMM)
/// A_t and b are added as the product is written (no pass of their own over z_t, nor over A to add
/// b to it beforehand).
/// linear(h_t, U) per step would compute dL/dU as T small GEMMs, which run at about half the speed
/// of one big one, and slicing A_t out of A would copy each step's gradient back three times. Here
/// each step's record saves h_t into H (forward) and dL/dz_t into dZ (backward); one record made
/// by the constructor, BEFORE the first step, computes dL/dU and dL/dA from them: the tape runs
/// backward in reverse order of recording, so it runs after every step's record. Its output is U
/// itself (a view), which each step takes as an input so that backward reaches it.
class RecurrentLinear {
public:
    /// weight U [G, K]; per_step: A [steps, N, G] or undefined; bias: b [G] or undefined; steps:
    /// the most steps the loop will run; gates > 1: each z_t comes out gate-major,
    /// [gates, N, G / gates], so that a cell takes its gates as views (select(z, 0, k)) instead of
    /// slicing copies of [N, G].
    RecurrentLinear(const Tensor& weight, const Tensor& per_step, const Tensor& bias, int64_t steps,
                    int64_t gates = 1);
    /// z_t = A_t + b + h U^T for the next step (t = 0, 1, ... in call order).
    Tensor step(const Tensor& h);

    struct State;

private:
    std::shared_ptr<State> state_;
};

}  // namespace tapegrad
