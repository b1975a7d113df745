// Every kernel launch of the CUDA backend goes through launch(): one place that sizes the grid,
// checks the launch and names the op when it fails.
//
//     launch("add", binary_kernel<Add, float>, blocks_for(n), a, b, y, plan);
//
// is `binary_kernel<<<blocks_for(n), kBlock>>>(a, b, y, plan)` written as the runtime call the
// <<<...>>> syntax compiles to (cudaLaunchKernel with a pointer to each argument). Being plain C++,
// it also compiles without nvcc, against the host emulation of the runtime (cuda/emulation/),
// which runs the same kernel bodies on the CPU in every CI run.
//
// A kernel's fault (an illegal address, say) is not seen by its launch: the GPU reports it at the
// next synchronisation, to whatever call makes it. With TAPEGRAD_CUDA_DEBUG=1 in the environment
// every launch synchronises and a fault is reported at the op whose kernel made it.
#pragma once
#include <cstdint>
#include <tuple>
#include <utility>

#include "check.h"

namespace tapegrad::cuda {

constexpr int kBlock = 256;  // threads per block of the grid-stride kernels

// Blocks for n elements at kBlock threads each, at most 4096 (a grid-stride loop covers the rest).
int blocks_for(int64_t n);

// True where TAPEGRAD_CUDA_DEBUG=1: synchronise after each launch, allocate exact sizes, poison
// every block handed out with NaN (cuda/device.cu).
bool debug_mode();

// Checks a launch: the launch's own status, then (in debug mode) the kernel's run.
void launched(cudaError_t status, const char* op);

template <typename... Params, typename... Args>
void launch(const char* op, void (*kernel)(Params...), int blocks, Args&&... args) {
    std::tuple<Params...> values(std::forward<Args>(args)...);  // converted as <<<...>>> would
    cudaError_t status = std::apply(
        [&](Params&... v) {
            void* pointers[] = {static_cast<void*>(&v)...};
            return cudaLaunchKernel(kernel, dim3(blocks), dim3(kBlock), pointers, 0, nullptr);
        },
        values);
    launched(status, op);
}

}  // namespace tapegrad::cuda
