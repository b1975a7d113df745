// The host emulation of the CUDA runtime: what cuda/*.cu includes as <cuda_runtime.h> when it is
// compiled as plain C++ (`make EMU=1`, cuda/emulation/README.md), so that every CI run executes the
// CUDA backend's kernel bodies on the CPU.
//
// A launch runs every (block, thread) of its grid in turn, each thread a fiber of its own on the
// launching thread, switched at __syncthreads() and at warp shuffles: threads meet at a barrier as on
// a GPU, and a barrier some threads never reach is reported as a fault. Device memory lives in
// an arena per device that host code cannot read (a host dereference of a device pointer faults,
// as on a GPU); blocks come poisoned with NaN (all bits set); a write past a block's end is caught;
// copies check their direction and bounds. Faults are sticky, as on a GPU: every later call returns
// them. What it cannot see: races between threads (they never run at once), timing, and
// anything of a real device's memory model. Knobs (environment): TAPEGRAD_EMU_DEVICES=N devices
// (default 1), TAPEGRAD_EMU_MEMORY=bytes per device (default 1 GiB).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- what nvcc's keywords mean here ------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// A block's shared memory: blocks run one after another, so one static copy per kernel serves all.
#define __shared__ static
#define __launch_bounds__(...)

// ---- types ---------------------------------------------------------------------------------------
enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorIllegalAddress = 700,
    cudaErrorLaunchTimeout = 702,
    cudaErrorAssert = 710,
    cudaErrorHardwareStackError = 714,
    cudaErrorIllegalInstruction = 715,
    cudaErrorMisalignedAddress = 716,
    cudaErrorInvalidAddressSpace = 717,
    cudaErrorInvalidPc = 718,
    cudaErrorLaunchFailure = 719,
};
typedef cudaError cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

typedef struct CUstream_st* cudaStream_t;

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    int major, minor;
    int multiProcessorCount;
    int warpSize;
    int maxThreadsPerBlock;
};

// ---- the runtime API (cuda/emulation/runtime.cpp) ------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaMemGetInfo(size_t* free, size_t* total);
cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                         cudaMemcpyKind kind);
cudaError_t cudaMemset(void* ptr, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);

// ---- what a kernel body sees -------------------------------------------------------------------
namespace tapegrad::emulation {

// The running thread's indices (a fiber's own).
struct ThreadIndices {
    uint3 thread, block;
    dim3 block_dim, grid_dim;
};
const ThreadIndices& thread_indices();

void sync_threads();  // __syncthreads: every thread of the block meets here
void sync_warp();     // __syncwarp: every thread of the warp meets here
// A warp shuffle: each lane offers `value`, and gets the value lane `source` offered.
uint64_t exchange_in_warp(uint64_t value, unsigned source);

template <typename T>
T shuffle(T value, unsigned source) {
    static_assert(sizeof(T) <= sizeof(uint64_t) && std::is_trivially_copyable<T>::value, "a shuffle moves 8 bytes at most");
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    bits = exchange_in_warp(bits, source);
    std::memcpy(&value, &bits, sizeof(T));
    return value;
}

// A launch: checks the configuration and every pointer argument (on the current device, live),
// then runs `body` once per thread of the grid. Returns what cudaLaunchKernel returns.
struct PointerArgument {
    int position;
    const void* value;
};
cudaError_t launch(dim3 grid, dim3 block, const PointerArgument* pointers, int count, void (*body)(void*),
                   void* closure);

}  // namespace tapegrad::emulation

#define threadIdx (::tapegrad::emulation::thread_indices().thread)
#define blockIdx (::tapegrad::emulation::thread_indices().block)
#define blockDim (::tapegrad::emulation::thread_indices().block_dim)
#define gridDim (::tapegrad::emulation::thread_indices().grid_dim)
constexpr int warpSize = 32;

inline void __syncthreads() { ::tapegrad::emulation::sync_threads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ::tapegrad::emulation::sync_warp(); }
inline void __threadfence() {}

template <typename T>
T __shfl_sync(unsigned, T value, int source, int width = warpSize) {
    unsigned lane = threadIdx.x % warpSize, base = lane / width * width;
    return ::tapegrad::emulation::shuffle(value, base + unsigned(source) % width);
}
template <typename T>
T __shfl_down_sync(unsigned, T value, unsigned delta, int width = warpSize) {
    unsigned lane = threadIdx.x % warpSize, base = lane / width * width;
    unsigned source = lane + delta < base + width ? lane + delta : lane;  // past the segment: its own value
    return ::tapegrad::emulation::shuffle(value, source);
}
template <typename T>
T __shfl_xor_sync(unsigned, T value, int mask, int width = warpSize) {
    unsigned lane = threadIdx.x % warpSize, base = lane / width * width;
    unsigned source = lane ^ unsigned(mask);
    return ::tapegrad::emulation::shuffle(value, source < base + width ? source : lane);
}

// Atomics: the threads of a launch never run at once, so a read-modify-write is atomic as it is.
template <typename T>
T atomicAdd(T* address, T value) {
    T old = *address;
    *address = old + value;
    return old;
}
template <typename T>
T atomicCAS(T* address, T compare, T value) {
    T old = *address;
    if (old == compare) *address = value;
    return old;
}
template <typename T>
T atomicMax(T* address, T value) {
    T old = *address;
    if (value > old) *address = value;
    return old;
}
template <typename T>
T atomicMin(T* address, T value) {
    T old = *address;
    if (value < old) *address = value;
    return old;
}
template <typename T>
T atomicExch(T* address, T value) {
    T old = *address;
    *address = value;
    return old;
}

namespace tapegrad::emulation {

template <typename... P, size_t... I>
std::tuple<std::decay_t<P>...> argument_copies(void** args, std::index_sequence<I...>) {
    return std::tuple<std::decay_t<P>...>(*static_cast<std::decay_t<P>*>(args[I])...);
}

// The arguments that are pointers, for launch() to check.
template <typename Tuple, size_t... I>
int pointer_arguments(const Tuple& values, PointerArgument* out, std::index_sequence<I...>) {
    int count = 0;
    auto one = [&](auto index) {
        constexpr size_t i = decltype(index)::value;
        if constexpr (std::is_pointer<std::tuple_element_t<i, Tuple>>::value)
            out[count++] = {int(i), static_cast<const void*>(std::get<i>(values))};
    };
    (one(std::integral_constant<size_t, I>{}), ...);
    return count;
}

}  // namespace tapegrad::emulation

// cudaLaunchKernel, as the real runtime's C++ template takes it: the kernel and a pointer to each
// argument. Each thread calls the kernel with its own copy of the arguments.
template <typename... P>
cudaError_t cudaLaunchKernel(void (*kernel)(P...), dim3 grid, dim3 block, void** args, size_t = 0,
                             cudaStream_t = nullptr) {
    using namespace tapegrad::emulation;
    using Values = std::tuple<std::decay_t<P>...>;
    struct Call {
        void (*kernel)(P...);
        Values values;
    } call{kernel, argument_copies<P...>(args, std::index_sequence_for<P...>{})};
    PointerArgument pointers[sizeof...(P) + 1];
    int count = pointer_arguments(call.values, pointers, std::index_sequence_for<P...>{});
    return launch(grid, block, pointers, count,
                  [](void* c) {
                      Call& call = *static_cast<Call*>(c);
                      std::apply(call.kernel, call.values);  // copies: a thread may change its parameters
                  },
                  &call);
}
