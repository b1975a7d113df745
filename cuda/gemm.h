// Row-major GEMM on cuBLAS (the mapping is explained in cuda/gemm.cu).
#pragma once
#include "../core/backend.h"

namespace tapegrad::cuda {
// On args.device, which it makes current, with that device's cuBLAS handle.
void gemm(const GemmArgs& args);
}
