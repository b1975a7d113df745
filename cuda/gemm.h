// Row-major GEMM on cuBLAS (the mapping is explained in cuda/gemm.cu).
#pragma once
#include "../core/backend.h"

namespace tapegrad::cuda {
void gemm(int device, const GemmArgs& args);
}
