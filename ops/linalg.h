/// \file
/// Matrix products, on OpenBLAS (CPU) or cuBLAS (CUDA).
#pragma once
#include "../core/tensor.h"

namespace tapegrad {

/// a [M, K] x b [K, N] -> [M, N]
/// a [..., M, K] x b [K, N] -> [..., M, N]              (leading dims folded into one big GEMM)
/// a [..., M, K] x b [..., K, N] -> [..., M, N]         (batched; leading dims must be equal)
Tensor matmul(const Tensor& a, const Tensor& b);

/// The affine map of a Linear layer with PyTorch's weight layout:
/// x [..., in], weight [out, in], bias [out] (may be undefined) -> x weight^T + bias  [..., out]
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace tapegrad
