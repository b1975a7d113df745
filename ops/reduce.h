/// \file
/// Reductions over one axis or over all elements.
#pragma once
#include "../core/tensor.h"

namespace tapegrad {

Tensor sum(const Tensor& x);                                     ///< scalar: sum of all elements
Tensor sum(const Tensor& x, int axis, bool keepdim = false);     ///< [.., n, ..] -> [.., ..]
Tensor mean(const Tensor& x);  ///< scalar: mean of all elements
Tensor mean(const Tensor& x, int axis, bool keepdim = false);  ///< [.., n, ..] -> [.., ..]: the mean over `axis` (keepdim keeps it as extent 1)
Tensor max(const Tensor& x);                                     ///< scalar: largest element
Tensor max(const Tensor& x, int axis, bool keepdim = false);     ///< gradient flows to the first maximum
Tensor min(const Tensor& x);                                     ///< scalar: smallest element, −max(−x)
Tensor min(const Tensor& x, int axis, bool keepdim = false);     ///< gradient flows to the first minimum
/// The variance over `axis`, Σ (x − mean)² / (n − 1) (unbiased, PyTorch's default) or / n; NaN
/// where n − 1 or n is 0. stddev is its square root.
Tensor var(const Tensor& x, int axis, bool unbiased = true, bool keepdim = false);
Tensor stddev(const Tensor& x, int axis, bool unbiased = true, bool keepdim = false);  ///< torch.std (not "std": that is C++'s namespace)
/// The p-norm of all elements, (Σ |x|^p)^(1/p), as torch.linalg.vector_norm: p = 1 (Σ |x|), p = 2
/// (the default, sqrt(Σ x²)) or p = infinity (max |x|); any other p throws. The gradients:
/// p = 1: sign(x) (0 at x = 0); p = 2: x / ‖x‖, and 0 where the norm is 0 (PyTorch's subgradient,
/// not the NaN of 0/0); p = inf: sign(x) at the first largest |x| only (as max). The norm of no
/// elements is 0 for p = 1 and 2; the inf-norm of none throws.
Tensor norm(const Tensor& x, double p = 2);                                  ///< scalar
/// The p-norm along `axis`: [.., n, ..] -> [.., ..] ([.., 1, ..] with keepdim).
Tensor norm(const Tensor& x, double p, int axis, bool keepdim = false);
/// Index of the largest entry along `axis` (Int64, not differentiable).
Tensor argmax(const Tensor& x, int axis);

}  // namespace tapegrad
