// The one place where tapegrad's row-major matrices meet cuBLAS's column-major ones.
//
// A row-major matrix X [r, c] with row stride ld, read by cuBLAS as column-major, is X^T [c, r]
// with leading dimension ld. So for row-major C = op(A) op(B):
//
//     C^T = op(B)^T op(A)^T       (the identity (XY)^T = Y^T X^T)
//
// and C^T is exactly what cuBLAS sees when it writes C's memory column-major. Hence one call:
//     gemm(op_B, op_A, n, m, k, B, ldb, A, lda, C, ldc)
// with the operands swapped and the transpose flags unchanged (a row-major "transpose B" is a
// column-major "transpose" of the stored B^T as well).
//
// Sizes, leading dimensions, strides and the batch count go to cuBLAS's 64-bit API (the _64
// calls, CUDA 12+) as they are: nothing is cast to int.
//
// Float32 products are float32 arithmetic: each handle is created with CUBLAS_DEFAULT_MATH, which
// never uses TF32 (that takes CUBLAS_TF32_TENSOR_OP_MATH; PyTorch's allow_tf32 is off by default
// too). The GPU suite compares float32 products with the CPU's to 2e-5, which TF32 (10 mantissa
// bits) would not meet.
#include <mutex>
#include <vector>

#include "../core/backend.h"
#include "check.h"
#include "device_memory.h"
#include "gemm.h"
#include "launch.h"

namespace tapegrad::cuda {

namespace {
// Device `device`'s handle, created (with that device current) on first use.
cublasHandle_t handle_for(int device) {
    static std::mutex mutex;
    static std::vector<cublasHandle_t> handles;
    std::lock_guard<std::mutex> lock(mutex);
    if (int(handles.size()) <= device) handles.resize(device + 1, nullptr);
    if (!handles[device]) {
        TG_CUBLAS_CHECK(cublasCreate(&handles[device]), "matmul");
        TG_CUBLAS_CHECK(cublasSetMathMode(handles[device], CUBLAS_DEFAULT_MATH), "matmul");
    }
    return handles[device];
}
}  // namespace

void gemm(const GemmArgs& g) {
    set_device(g.device.index, "matmul");
    cublasHandle_t handle = handle_for(g.device.index);
    cublasOperation_t op_a = g.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_b = g.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (g.dtype == DType::Float32) {
        float alpha = float(g.alpha), beta = float(g.beta);
        TG_CUBLAS_CHECK(cublasSgemmStridedBatched_64(handle, op_b, op_a, g.n, g.m, g.k, &alpha,
                                                     static_cast<const float*>(g.b), g.ldb, g.stride_b,
                                                     static_cast<const float*>(g.a), g.lda, g.stride_a, &beta,
                                                     static_cast<float*>(g.c), g.ldc, g.stride_c, g.batch),
                        "matmul");
    } else {
        TG_CUBLAS_CHECK(cublasDgemmStridedBatched_64(handle, op_b, op_a, g.n, g.m, g.k, &g.alpha,
                                                     static_cast<const double*>(g.b), g.ldb, g.stride_b,
                                                     static_cast<const double*>(g.a), g.lda, g.stride_a, &g.beta,
                                                     static_cast<double*>(g.c), g.ldc, g.stride_c, g.batch),
                        "matmul");
    }
    if (debug_mode()) TG_CUDA_CHECK(cudaDeviceSynchronize(), "matmul");  // a fault in it is named here
}

}  // namespace tapegrad::cuda
