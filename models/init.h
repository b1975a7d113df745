/// \file
/// Parameter initialisers. Each returns a fresh float32 CPU tensor drawn from `gen`.
#pragma once
#include "../core/random.h"
#include "../core/tensor.h"

namespace tapegrad {

/// Uniform in [-bound, bound): PyTorch's Linear/LSTM default uses bound = 1/sqrt(fan_in).
Tensor uniform_init(const Shape& shape, double bound, Generator& gen);
/// haiku's TruncatedNormal(stddev): normal draws outside ±2 stddev are redrawn (no variance
/// correction), the default of hk.Linear with stddev = 1/sqrt(fan_in).
Tensor truncated_normal_init(const Shape& shape, double stddev, Generator& gen);

}  // namespace tapegrad
