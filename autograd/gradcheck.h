/// \file
/// Finite-difference gradient check, in float64.
///
/// For f: inputs -> y, gradcheck fixes a random direction R (same shape as y) and checks the
/// gradient of the scalar L(x) = <f(x), R>. The tape computes it as backward(y, seed = R); the
/// reference is the central difference (L(x + eps e_k) - L(x - eps e_k)) / (2 eps) for every
/// element k of every input that requires grad. A random R, not all ones, so that an op that
/// gets its gradient right only for a uniform upstream gradient (e.g. a transposed index) fails.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../core/tensor.h"

namespace tapegrad {

/// The finite-difference step and the tolerances of gradcheck.
struct GradcheckOptions {
    double eps = 1e-6;  ///< central-difference step, in float64
    double atol = 1e-6;   ///< |analytical - numerical| <= atol + rtol * |numerical|
    double rtol = 1e-5;  ///< relative tolerance (see atol)
    uint64_t seed = 20261123;  ///< for the projection R
};

/// What gradcheck found.
struct GradcheckResult {
    bool ok = true;  ///< every compared element within tolerance
    std::string message;    ///< the first mismatch: input, element, both values
    double max_abs_error = 0;  ///< the largest |analytical - numerical| over all compared elements
    int64_t checked = 0;    ///< number of input elements compared
};

/// The function under test: the inputs to one output tensor (projected to a scalar by gradcheck).
using GradcheckFn = std::function<Tensor(const std::vector<Tensor>& inputs)>;

/// All inputs that require grad must be float64. Runs on its own tape; leaves the inputs'
/// .grad untouched.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

}  // namespace tapegrad
