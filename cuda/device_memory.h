// Internal to the CUDA backend: device memory through the caching allocator (cuda/device.cu).
#pragma once
#include <cstddef>
#include <string>

namespace tapegrad {
class Backend;
}

namespace tapegrad::cuda {

// The kernels and memory of every CUDA device (cuda/cuda_backend.cu).
Backend& cuda_backend();

// Throws unless device `index` exists; makes it current.
void require_device(int index, const std::string& op);
// Makes device `index` current for the calling thread (no check that it exists).
void set_device(int index, const std::string& op);
void* device_allocate(int device, size_t bytes);
void device_deallocate(int device, void* ptr, size_t bytes);

}  // namespace tapegrad::cuda
