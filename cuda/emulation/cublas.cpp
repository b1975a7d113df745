// The host emulation of cuBLAS (cuda/emulation/cublas_v2.h): the strided batched GEMMs tapegrad
// calls, column-major as cuBLAS's, computed by the textbook triple loop:
//
//     C_b = alpha op(A_b) op(B_b) + beta C_b,  b < batch,  op(X) = X or X^T,
//     op(A) [m, k], op(B) [k, n], C [m, n]; element (i, j) of a matrix X is X[i + j ld].
//
// C is not read where beta is 0 (it may hold NaN, as the emulation's fresh memory does).
#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "cublas_v2.h"
#include "emulator.h"

struct cublasContext {
    int device;
    cublasMath_t math;
};

using namespace tapegrad::emulation;

namespace {

thread_local cublasStatus_t failed_status = CUBLAS_STATUS_SUCCESS;
thread_local std::string failed_detail;

cublasStatus_t failure(cublasStatus_t status, const std::string& detail) {
    failed_status = status;
    failed_detail = detail;
    return status;
}

// A matrix operand: its allocation, and every element read or written checked to lie inside it.
template <typename T>
struct Operand {
    const char* name;
    T* base;
    const Allocation* allocation;

    T* at(long long batch_offset, long long offset, const char* call) const {
        T* element = base + batch_offset + offset;
        const char* p = reinterpret_cast<const char*>(element);
        if (p < allocation->data || p + sizeof(T) > allocation->data + allocation->bytes) {
            fault(cudaErrorIllegalAddress,
                  fmt::format("{} read or wrote element {} of {} ({} elements past its start), outside its allocation "
                              "of {} bytes",
                              call, batch_offset + offset, name, batch_offset + offset, allocation->bytes));
            return nullptr;
        }
        return element;
    }
};

template <typename T>
bool find_operand(Operand<T>& op, int device, const char* call) {
    op.allocation = allocation_at(op.base);
    std::string why = !op.allocation          ? "is not device memory"
                      : !op.allocation->live   ? "lies in a freed allocation"
                      : op.allocation->device != device ? fmt::format("is memory of cuda:{}", op.allocation->device)
                                                        : "";
    if (why.empty()) return true;
    fault(cudaErrorIllegalAddress,
          fmt::format("{} on cuda:{}: {} ({}) {}", call, device, op.name, static_cast<const void*>(op.base), why));
    return false;
}

template <typename T, typename I>
cublasStatus_t gemm(const char* call, cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, I m,
                    I n, I k, const T* alpha, const T* A, I lda, long long stride_a, const T* B, I ldb,
                    long long stride_b, const T* beta, T* C, I ldc, long long stride_c, I batch) {
    std::lock_guard<std::recursive_mutex> lock(emulator_lock());
    if (!handle) return failure(CUBLAS_STATUS_NOT_INITIALIZED, fmt::format("{}: no handle", call));
    if (sticky_error())
        return failure(CUBLAS_STATUS_EXECUTION_FAILED, fmt::format("{}: a fault before it: {}", call,
                                                                   cudaGetErrorString(sticky_error())));
    auto valid_op = [](cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; };
    const I rows_a = transa == CUBLAS_OP_N ? m : k, rows_b = transb == CUBLAS_OP_N ? k : n;
    std::string invalid = !valid_op(transa) || !valid_op(transb) ? "an operation other than N, T or C"
                          : m < 0 || n < 0 || k < 0 || batch < 0
                              ? fmt::format("m = {}, n = {}, k = {}, batch = {}: negative", m, n, k, batch)
                          : lda < std::max<I>(1, rows_a) ? fmt::format("lda = {} < max(1, {})", lda, rows_a)
                          : ldb < std::max<I>(1, rows_b) ? fmt::format("ldb = {} < max(1, {})", ldb, rows_b)
                          : ldc < std::max<I>(1, m)      ? fmt::format("ldc = {} < max(1, m = {})", ldc, m)
                                                         : "";
    if (!invalid.empty()) return failure(CUBLAS_STATUS_INVALID_VALUE, fmt::format("{}: {}", call, invalid));
    if (current_device() != handle->device)
        return failure(CUBLAS_STATUS_EXECUTION_FAILED,
                       fmt::format("{}: a handle of cuda:{} used while cuda:{} is current", call, handle->device,
                                   current_device()));
    if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;
    const bool reads_ab = k > 0 && *alpha != T(0), reads_c = *beta != T(0);
    Operand<const T> a{"A", A, nullptr}, b{"B", B, nullptr};
    Operand<T> c{"C", C, nullptr};
    const int device = handle->device;
    if (!find_operand(c, device, call) || (reads_ab && (!find_operand(a, device, call) || !find_operand(b, device, call))))
        return failure(CUBLAS_STATUS_EXECUTION_FAILED, cudaGetErrorString(sticky_error()));
    DeviceAccess access(device);
    for (I batch_index = 0; batch_index < batch; ++batch_index)
        for (I j = 0; j < n; ++j)
            for (I i = 0; i < m; ++i) {
                T sum = 0;
                for (I l = 0; reads_ab && l < k; ++l) {
                    const T* x = a.at(batch_index * stride_a, transa == CUBLAS_OP_N ? i + l * lda : l + i * lda, call);
                    const T* y = b.at(batch_index * stride_b, transb == CUBLAS_OP_N ? l + j * ldb : j + l * ldb, call);
                    if (!x || !y) return failure(CUBLAS_STATUS_EXECUTION_FAILED, cudaGetErrorString(sticky_error()));
                    sum += *x * *y;
                }
                T* z = c.at(batch_index * stride_c, i + j * ldc, call);
                if (!z) return failure(CUBLAS_STATUS_EXECUTION_FAILED, cudaGetErrorString(sticky_error()));
                *z = *alpha * sum + (reads_c ? *beta * *z : T(0));
            }
    check_canaries(device, call);
    return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
    *handle = new cublasContext{current_device(), CUBLAS_DEFAULT_MATH};
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    if (!handle) return failure(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetMathMode: no handle");
    handle->math = mode;  // the emulation computes in T whatever the mode: no TF32 here
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
    if (!handle) return failure(CUBLAS_STATUS_NOT_INITIALIZED, "cublasGetMathMode: no handle");
    *mode = handle->math;
    return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

// The status's name, with what the emulation found wrong when it is the last failure's.
const char* cublasGetStatusString(cublasStatus_t status) {
    thread_local std::string text;
    text = cublasGetStatusName(status);
    if (status == failed_status && !failed_detail.empty()) text += " (emulation: " + failed_detail + ")";
    return text.c_str();
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const float* alpha, const float* A, int lda,
                                         long long strideA, const float* B, int ldb, long long strideB,
                                         const float* beta, float* C, int ldc, long long strideC, int batch) {
    return gemm("cublasSgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB,
                beta, C, ldc, strideC, batch);
}

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const double* alpha, const double* A, int lda,
                                         long long strideA, const double* B, int ldb, long long strideB,
                                         const double* beta, double* C, int ldc, long long strideC, int batch) {
    return gemm("cublasDgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB,
                beta, C, ldc, strideC, batch);
}

cublasStatus_t cublasSgemmStridedBatched_64(cublasHandle_t handle, cublasOperation_t transa,
                                            cublasOperation_t transb, int64_t m, int64_t n, int64_t k,
                                            const float* alpha, const float* A, int64_t lda, long long strideA,
                                            const float* B, int64_t ldb, long long strideB, const float* beta,
                                            float* C, int64_t ldc, long long strideC, int64_t batch) {
    return gemm("cublasSgemmStridedBatched_64", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb,
                strideB, beta, C, ldc, strideC, batch);
}

cublasStatus_t cublasDgemmStridedBatched_64(cublasHandle_t handle, cublasOperation_t transa,
                                            cublasOperation_t transb, int64_t m, int64_t n, int64_t k,
                                            const double* alpha, const double* A, int64_t lda, long long strideA,
                                            const double* B, int64_t ldb, long long strideB, const double* beta,
                                            double* C, int64_t ldc, long long strideC, int64_t batch) {
    return gemm("cublasDgemmStridedBatched_64", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb,
                strideB, beta, C, ldc, strideC, batch);
}
