// Helpers every op uses to check its inputs: errors name the op and what it got.
#pragma once
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "core/backend.h"
#include "core/layout.h"
#include "core/tensor.h"

namespace tapegrad {

// Throws unless x holds float32/float64 values.
void check_floating(const char* op, const Tensor& x);
// Throws unless all tensors share one dtype and one device.
void check_same_dtype_device(const char* op, const std::vector<Tensor>& tensors);
// A new uninitialised tensor with x's dtype and device.
Tensor empty_like(const Tensor& x, const Shape& shape);
Tensor empty_like(const Tensor& x);
Backend& kernels(const Tensor& x);

}  // namespace tapegrad
