// Devices, error checks and the caching allocator of the CUDA backend.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include "../core/error.h"
#include "check.h"
#include "cuda.h"
#include "device_memory.h"
#include "index_errors.h"
#include "launch.h"
#include "runtime.h"

namespace tapegrad::cuda {

namespace {
// A kernel's fault (an illegal address, a trap, a launch failure) is sticky: the process's CUDA
// context is lost, and every later CUDA call returns the same error. Nothing clears it; the
// message says so, and how to find the kernel that faulted.
bool is_sticky(cudaError_t status) {
    switch (status) {
        case cudaErrorIllegalAddress: case cudaErrorLaunchFailure: case cudaErrorAssert:
        case cudaErrorHardwareStackError: case cudaErrorIllegalInstruction: case cudaErrorMisalignedAddress:
        case cudaErrorInvalidAddressSpace: case cudaErrorInvalidPc: case cudaErrorLaunchTimeout:
            return true;
        default:
            return false;
    }
}
}  // namespace

void check(cudaError_t status, const char* call, const char* file, int line, const std::string& op) {
    if (status == cudaSuccess) return;
    cudaGetLastError();  // a non-sticky error (a bad argument, say) is cleared: later calls are not blamed for it
    fail(op, "CUDA call {} failed at {}:{}: {} ({}){}", call, file, line, cudaGetErrorString(status),
         cudaGetErrorName(status),
         !is_sticky(status) ? ""
         : debug_mode() ? "; this error is sticky: every later CUDA call in this process fails with it"
                        : "; this error is sticky: every later CUDA call in this process fails with it. A kernel "
                          "faults at the next synchronisation, not at its launch: run with TAPEGRAD_CUDA_DEBUG=1 "
                          "to have the op whose kernel faulted named");
}

bool debug_mode() {
    static const bool on = [] {
        const char* value = std::getenv("TAPEGRAD_CUDA_DEBUG");
        return value && std::string(value) == "1";
    }();
    return on;
}

int blocks_for(int64_t n) { return int(std::max<int64_t>(1, std::min<int64_t>((n + kBlock - 1) / kBlock, 4096))); }

void launched(cudaError_t status, const char* op) {
    TG_CUDA_CHECK(status, op);
    if (debug_mode()) TG_CUDA_CHECK(cudaDeviceSynchronize(), op);
}

void check(cublasStatus_t status, const char* call, const char* file, int line, const std::string& op) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    fail(op, "cuBLAS call {} failed at {}:{}: {} ({})", call, file, line, cublasGetStatusString(status),
         cublasGetStatusName(status));
}

namespace {
// How many devices the driver reports. Devices do not come and go while a process runs: ask the
// driver once.
int devices_found() {
    static const int count = [] {
        int n = 0;
        // No driver or no device is not an error here: it just means zero devices.
        if (cudaGetDeviceCount(&n) != cudaSuccess) {
            cudaGetLastError();
            return 0;
        }
        return n;
    }();
    return count;
}
}  // namespace

// Every op makes its tensor's device current; the runtime call is made only when the calling
// thread's current device changes.
void set_device(int index, const std::string& op) {
    thread_local int current = -1;
    if (index == current) return;
    TG_CUDA_CHECK(cudaSetDevice(index), op);
    current = index;
}

void require_device(int index, const std::string& op) {
    int count = devices_found();
    if (count == 0) {
        int ignored = 0;
        cudaError_t status = cudaGetDeviceCount(&ignored);
        cudaGetLastError();
        fail(op, "cuda:{} was requested but no CUDA device is available ({}); run on the CPU or on a machine "
             "with a GPU and driver", index, cudaGetErrorString(status));
    }
    if (index < 0 || index >= count)
        fail(op, "device cuda:{} does not exist ({} CUDA device(s) found)", index, count);
    set_device(index, op);
}

// ---- the caching allocator ------------------------------------------------------------------
// Freed blocks are kept per (device, size class) and handed to the next request of that class,
// so a training loop asks the driver for memory only in its first step. Sizes round up to 512
// bytes below 1 MiB and to 2 MiB multiples above (PyTorch's small/large pools, simplified).
// In debug mode (TAPEGRAD_CUDA_DEBUG=1) a block is exactly the size asked for, so that a kernel
// reading or writing past a tensor's end leaves its block (where compute-sanitizer and the host
// emulation see it), and every block handed out is filled with NaN (all bits set), so that a
// kernel reading what no kernel wrote gives NaN, not yesterday's values.

namespace {
size_t size_class(size_t bytes) {
    if (debug_mode()) return bytes;
    const size_t small = 512, large = size_t(2) << 20;
    return bytes < (size_t(1) << 20) ? (bytes + small - 1) / small * small : (bytes + large - 1) / large * large;
}

struct Allocator {
    std::mutex mutex;
    std::map<std::pair<int, size_t>, std::vector<void*>> free_blocks;
    MemoryStats stats;

    void release_cache() {
        for (auto& [key, blocks] : free_blocks) {
            for (void* p : blocks) {
                set_device(key.first, "cuda empty_cache");
                cudaFree(p);
            }
            stats.cached -= key.second * blocks.size();
        }
        free_blocks.clear();
    }
};

Allocator& allocator() {
    static Allocator* instance = new Allocator;  // never destroyed: tensors may outlive statics
    return *instance;
}
}  // namespace

void* device_allocate(int device, size_t bytes) {
    require_device(device, "cuda allocate");  // cudaMalloc allocates on the current device
    size_t rounded = size_class(bytes == 0 ? 1 : bytes);
    Allocator& a = allocator();
    std::lock_guard<std::mutex> lock(a.mutex);
    auto it = a.free_blocks.find({device, rounded});
    void* ptr = nullptr;
    if (it != a.free_blocks.end() && !it->second.empty()) {
        ptr = it->second.back();
        it->second.pop_back();
        a.stats.cached -= rounded;
    } else {
        cudaError_t status = cudaMalloc(&ptr, rounded);
        if (status == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            a.release_cache();  // one retry with every cached block handed back
            set_device(device, "cuda allocate");  // release_cache visited the cached blocks' devices
            status = cudaMalloc(&ptr, rounded);
        }
        if (status == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            throw Error(out_of_memory_message(bytes, a.stats.in_use, a.stats.cached, cudaGetErrorString(status)));
        }
        TG_CUDA_CHECK(status, "cuda allocate");
        ++a.stats.driver_allocations;
    }
    a.stats.in_use += rounded;
    a.stats.peak_in_use = std::max(a.stats.peak_in_use, a.stats.in_use);
    if (debug_mode()) TG_CUDA_CHECK(cudaMemset(ptr, 0xff, rounded), "cuda allocate");
    return ptr;
}

void device_deallocate(int device, void* ptr, size_t bytes) {
    size_t rounded = size_class(bytes == 0 ? 1 : bytes);
    Allocator& a = allocator();
    std::lock_guard<std::mutex> lock(a.mutex);
    a.free_blocks[{device, rounded}].push_back(ptr);
    a.stats.in_use -= rounded;
    a.stats.cached += rounded;
}

// ---- out-of-range indices (cuda/index_errors.h) -----------------------------------------------

namespace {
struct IndexErrors {
    std::mutex mutex;
    std::vector<IndexError*> records;  // per device, made on its first gather or scatter
    std::vector<bool> armed;           // a launch was given the record since the last report
    std::vector<std::string> ops;      // IndexCheck::op -> the op's name
};

IndexErrors& index_errors() {
    static IndexErrors* instance = new IndexErrors;  // never destroyed, as the allocator
    return *instance;
}
}  // namespace

IndexCheck index_check(int device, const char* op) {
    IndexErrors& e = index_errors();
    std::lock_guard<std::mutex> lock(e.mutex);
    if (int(e.records.size()) <= device) {
        e.records.resize(device + 1, nullptr);
        e.armed.resize(device + 1, false);
    }
    if (!e.records[device]) {
        void* record = nullptr;
        TG_CUDA_CHECK(cudaMalloc(&record, sizeof(IndexError)), op);
        TG_CUDA_CHECK(cudaMemsetAsync(record, 0, sizeof(IndexError), 0), op);
        e.records[device] = static_cast<IndexError*>(record);
    }
    e.armed[device] = true;
    auto known = std::find(e.ops.begin(), e.ops.end(), op);
    if (known == e.ops.end()) known = e.ops.insert(known, op);
    return {e.records[device], int(known - e.ops.begin())};
}

void report_index_errors(const char* where) {
    IndexErrors& e = index_errors();
    std::lock_guard<std::mutex> lock(e.mutex);
    for (int device = 0; device < int(e.records.size()); ++device) {
        if (!e.armed[device]) continue;
        set_device(device, where);
        IndexError found;
        TG_CUDA_CHECK(cudaMemcpy(&found, e.records[device], sizeof found, cudaMemcpyDeviceToHost), where);
        e.armed[device] = false;
        if (!found.claimed) continue;
        TG_CUDA_CHECK(cudaMemsetAsync(e.records[device], 0, sizeof(IndexError), 0), where);
        fail(e.ops[found.op], "index {} at position {} is out of range (expected 0 <= index < {}); found on cuda:{} "
             "by the kernel, which read nothing there, and reported at {}, the next synchronisation after it",
             found.value, found.position, found.range, device, where);
    }
}

// ---- what libtapegrad sees (cuda/runtime.h) ---------------------------------------------------
namespace {
class CudaRuntime final : public Runtime {
public:
    Backend& backend() override { return cuda_backend(); }

    int device_count() override { return devices_found(); }

    std::string device_name(int index) override {
        require_device(index, "cuda::device_name");
        cudaDeviceProp prop;
        TG_CUDA_CHECK(cudaGetDeviceProperties(&prop, index), "cuda::device_name");
        return prop.name;
    }

    void synchronize() override {
        TG_CUDA_CHECK(cudaDeviceSynchronize(), "cuda::synchronize");
        report_index_errors("cuda::synchronize");
    }

    MemoryStats memory_stats() override {
        std::lock_guard<std::mutex> lock(allocator().mutex);
        return allocator().stats;
    }

    DeviceMemory memory_info(int index) override {
        require_device(index, "cuda::memory_info");
        DeviceMemory m;
        TG_CUDA_CHECK(cudaMemGetInfo(&m.free, &m.total), "cuda::memory_info");
        return m;
    }

    void empty_cache() override {
        std::lock_guard<std::mutex> lock(allocator().mutex);
        allocator().release_cache();
    }
};
}  // namespace

}  // namespace tapegrad::cuda

extern "C" tapegrad::cuda::Runtime* tapegrad_cuda_runtime() {
    static tapegrad::cuda::CudaRuntime runtime;
    return &runtime;
}
