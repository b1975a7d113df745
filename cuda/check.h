// Every CUDA runtime and cuBLAS call goes through TG_CUDA_CHECK / TG_CUBLAS_CHECK (llm.c's
// cudaCheck, as an exception): a failure throws tapegrad::Error naming the op being run, the call,
// the file and line, and the driver's message. Kernel launches are checked with
// TG_CUDA_CHECK(cudaGetLastError(), op) right after the launch.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

namespace tapegrad::cuda {

void check(cudaError_t status, const char* call, const char* file, int line, const std::string& op);
void check(cublasStatus_t status, const char* call, const char* file, int line, const std::string& op);

}  // namespace tapegrad::cuda

#define TG_CUDA_CHECK(call, op) ::tapegrad::cuda::check((call), #call, __FILE__, __LINE__, (op))
#define TG_CUBLAS_CHECK(call, op) ::tapegrad::cuda::check((call), #call, __FILE__, __LINE__, (op))
