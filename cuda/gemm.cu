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
#include <mutex>
#include <vector>

#include "../core/backend.h"
#include "check.h"
#include "gemm.h"

namespace tapegrad::cuda {

namespace {
cublasHandle_t handle_for(int device) {
    static std::mutex mutex;
    static std::vector<cublasHandle_t> handles;
    std::lock_guard<std::mutex> lock(mutex);
    if (int(handles.size()) <= device) handles.resize(device + 1, nullptr);
    if (!handles[device]) TG_CUBLAS_CHECK(cublasCreate(&handles[device]), "matmul");
    return handles[device];
}
}  // namespace

void gemm(int device, const GemmArgs& g) {
    cublasHandle_t handle = handle_for(device);
    cublasOperation_t op_a = g.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_b = g.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (g.dtype == DType::Float32) {
        float alpha = float(g.alpha), beta = float(g.beta);
        TG_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, op_b, op_a, int(g.n), int(g.m), int(g.k), &alpha,
                                                  static_cast<const float*>(g.b), int(g.ldb), g.stride_b,
                                                  static_cast<const float*>(g.a), int(g.lda), g.stride_a, &beta,
                                                  static_cast<float*>(g.c), int(g.ldc), g.stride_c, int(g.batch)),
                        "matmul");
    } else {
        TG_CUBLAS_CHECK(cublasDgemmStridedBatched(handle, op_b, op_a, int(g.n), int(g.m), int(g.k), &g.alpha,
                                                  static_cast<const double*>(g.b), int(g.ldb), g.stride_b,
                                                  static_cast<const double*>(g.a), int(g.lda), g.stride_a, &g.beta,
                                                  static_cast<double*>(g.c), int(g.ldc), g.stride_c, int(g.batch)),
                        "matmul");
    }
}

}  // namespace tapegrad::cuda
