// How libtapegrad reaches the CUDA backend without depending on it.
//
// The CUDA backend is a library of its own, libtapegrad_cuda (cuda/*.cu, linked with cudart and
// cuBLAS), so that a CPU-only program links neither. It defines tapegrad_cuda_runtime(), which
// libtapegrad refers to weakly (cuda/cuda_api.cpp): in a program that links libtapegrad_cuda the
// symbol is there, and every cuda:: call and every tensor on a CUDA device goes through it; in one
// that does not, it is null, cuda::is_available() is false and a CUDA tensor is refused with an
// error saying what to link.
//
// A static link pulls an object out of an archive only for a symbol something needs, and a weak
// reference is no such need: the link line says `-Wl,-u,tapegrad_cuda_runtime` (tapegrad-cuda.pc
// and the CMake target tapegrad::cuda add it), so that the static library works as the shared one.
#pragma once
#include <string>

#include "cuda.h"

namespace tapegrad {
class Backend;
}

namespace tapegrad::cuda {

// The device API of cuda/cuda.h, as libtapegrad_cuda implements it (cuda/device.cu).
class Runtime {
public:
    virtual Backend& backend() = 0;  // the kernels and memory of every CUDA device
    virtual int device_count() = 0;
    virtual std::string device_name(int index) = 0;
    virtual void synchronize() = 0;
    virtual MemoryStats memory_stats() = 0;
    virtual DeviceMemory memory_info(int index) = 0;
    virtual void empty_cache() = 0;

protected:
    ~Runtime() = default;
};

// libtapegrad_cuda's runtime if this program links it, else nullptr.
Runtime* linked_runtime();

// Why there is no CUDA backend in a program without libtapegrad_cuda, and what to link.
extern const char* const not_linked_message;

}  // namespace tapegrad::cuda

extern "C" tapegrad::cuda::Runtime* tapegrad_cuda_runtime();
