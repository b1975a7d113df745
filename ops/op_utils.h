/// \file
/// Helpers every op uses to check its inputs: errors name the op and what it got.
#pragma once
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "../autograd/tape.h"
#include "../core/backend.h"
#include "../core/layout.h"
#include "../core/tensor.h"

namespace tapegrad {

/// Throws unless every input is defined: "add: input 1 is an undefined (default-constructed) Tensor".
/// The other checks below begin with it.
void check_defined(const char* op, std::initializer_list<std::reference_wrapper<const Tensor>> inputs);
/// Throws unless x holds float32/float64 values.
void check_floating(const char* op, const Tensor& x);
/// Throws unless all tensors share one dtype and one device.
void check_same_dtype_device(const char* op, const std::vector<Tensor>& tensors);
/// A new uninitialised tensor with x's dtype and device.
Tensor empty_like(const Tensor& x, const Shape& shape);
Tensor empty_like(const Tensor& x);  ///< a new uninitialised tensor with x's shape, dtype and device
Backend& kernels(const Tensor& x);  ///< the kernels of x's device (backend_for(x.device()))

/// C (+)= op(A) op(B) on the tensors' backend, for `batch` row-major matrices laid out back to back:
/// op(A) is [m, k], op(B) is [k, n], C is [m, n]; beta = 0 writes C, beta = 1 adds to it. The GEMM
/// of matmul, linear and RecurrentLinear (models/recurrent_linear.h).
void gemm(bool transpose_a, bool transpose_b, const Tensor& a, const Tensor& b, Tensor& c, int64_t m, int64_t n,
          int64_t k, double beta, int64_t batch = 1);

/// Runs product(buffer, beta) into input i's gradient, when it needs one: beta = 1 adds to the
/// gradient already there, beta = 0 writes a fresh one (the products' backward, as gemm above).
template <typename Product>
void into(InputGrads& gx, size_t i, Product product) {
    if (!gx.needed(i)) return;
    InputGrads::Out g = gx.out(i);
    product(g.grad, g.accumulate ? 1.0 : 0.0);
}

}  // namespace tapegrad
