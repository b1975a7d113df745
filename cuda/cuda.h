/// \file
/// The CUDA device API: what a program asks before moving work to a GPU. Available in every
/// program: one that does not link the CUDA backend (libtapegrad_cuda, cuda/runtime.h) has
/// is_available() false and device_count() 0, and device_name throws a tapegrad::Error saying
/// what to link.
///
/// Moving a model and its data to the GPU is one call each: model.to(Device::cuda()) and
/// to(x, Device::cuda()); every op then runs there (see docs/GPU.md).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tapegrad::cuda {

/// True if this program links tapegrad's CUDA backend, libtapegrad_cuda (torch.backends.cuda.is_built()).
bool is_built();
/// True if the CUDA backend is linked and a device and driver are present.
bool is_available();
int device_count();  ///< the number of CUDA devices (0 without CUDA)
std::string device_name(int index = 0);  ///< the name of device `index` ("NVIDIA H200")

/// Waits for all queued GPU work on the current device (for timing).
void synchronize();

/// The caching allocator's counters (bytes), as PyTorch's torch.cuda.memory_* report them.
struct MemoryStats {
    size_t in_use = 0;          ///< held by live tensors
    size_t cached = 0;          ///< freed by tensors, kept for reuse
    size_t peak_in_use = 0;  ///< the most held by live tensors at once
    int64_t driver_allocations = 0;  ///< cudaMalloc calls so far
};
/// The counters of the current device's caching allocator.
MemoryStats memory_stats();

/// What the driver says of a device's memory (torch.cuda.mem_get_info): bytes free (beside what
/// tapegrad's cache holds, which counts as used) and in all.
struct DeviceMemory {
    size_t free = 0;   ///< bytes the driver can still hand out
    size_t total = 0;  ///< the device's memory
};
/// The memory of device `index`; throws a tapegrad::Error if there is no such device.
DeviceMemory memory_info(int index = 0);
/// Returns every cached block to the driver.
void empty_cache();

/// The message of the out-of-memory error (also used by the allocator), exposed so that tests
/// without a GPU can check its format.
std::string out_of_memory_message(size_t requested, size_t in_use, size_t cached, const std::string& detail);

}  // namespace tapegrad::cuda
