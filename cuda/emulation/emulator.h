// Internal to the host emulation: the device memory, faults and errors that runtime.cpp keeps and
// cublas.cpp uses.
#pragma once
#include <cstddef>
#include <mutex>
#include <string>

#include "cuda_runtime.h"

namespace tapegrad::emulation {

// One cudaMalloc: `bytes` asked for at `data`, followed by a canary (all bits set, as the poison)
// up to `block` bytes; a write there is a write past the end.
struct Allocation {
    char* data;
    size_t bytes;
    size_t block;
    int device;
    bool live;
};

// Every call of the emulation holds this lock (launches run on the thread that calls them).
std::recursive_mutex& emulator_lock();

int current_device();

// The allocation whose block holds p (live or freed), or nullptr: p is host memory.
const Allocation* allocation_at(const void* p);

// Checks that [p, p + bytes) lies in one live allocation of any device; on failure says why in `why`.
const Allocation* device_range(const void* p, size_t bytes, std::string& why);

// While it lives, device `device`'s memory is readable and writable by the code of the emulation.
class DeviceAccess {
public:
    explicit DeviceAccess(int device);
    ~DeviceAccess();
    DeviceAccess(const DeviceAccess&) = delete;
    DeviceAccess& operator=(const DeviceAccess&) = delete;

private:
    int device_;
};

// Checks the canaries of device `device`'s live allocations; a broken one is a fault.
void check_canaries(int device, const char* what);

// A fault of a kernel (or of cuBLAS's): sticky, as on a GPU. Every later call returns it.
void fault(cudaError_t error, const std::string& detail);
cudaError_t sticky_error();

// A failed call that is not a fault: cudaGetLastError returns it once; its detail is appended to
// cudaGetErrorString's text.
cudaError_t failed(cudaError_t error, const std::string& detail);

}  // namespace tapegrad::emulation
