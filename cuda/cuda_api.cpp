// The CUDA device API (cuda/cuda.h) in libtapegrad: each call goes to libtapegrad_cuda when the
// program links it (cuda/runtime.h), and answers "no devices" when it does not.
#include <fmt/format.h>

#include "../core/error.h"
#include "cuda.h"
#include "runtime.h"

// Null in a program that does not link libtapegrad_cuda.
#pragma weak tapegrad_cuda_runtime

namespace tapegrad::cuda {

const char* const not_linked_message =
    "this program does not link tapegrad's CUDA backend: link libtapegrad_cuda (`pkg-config --libs tapegrad-cuda`, "
    "or CMake's tapegrad::cuda), from a tapegrad built with nvcc on PATH";

Runtime* linked_runtime() { return tapegrad_cuda_runtime ? tapegrad_cuda_runtime() : nullptr; }

bool is_built() { return linked_runtime() != nullptr; }

bool is_available() { return device_count() > 0; }

int device_count() {
    Runtime* runtime = linked_runtime();
    return runtime ? runtime->device_count() : 0;
}

std::string device_name(int index) {
    Runtime* runtime = linked_runtime();
    if (!runtime) fail("cuda::device_name", "{}", not_linked_message);
    return runtime->device_name(index);
}

void synchronize() {
    if (Runtime* runtime = linked_runtime()) runtime->synchronize();
}

MemoryStats memory_stats() {
    Runtime* runtime = linked_runtime();
    return runtime ? runtime->memory_stats() : MemoryStats{};
}

DeviceMemory memory_info(int index) {
    Runtime* runtime = linked_runtime();
    if (!runtime) fail("cuda::memory_info", "{}", not_linked_message);
    return runtime->memory_info(index);
}

void empty_cache() {
    if (Runtime* runtime = linked_runtime()) runtime->empty_cache();
}

std::string out_of_memory_message(size_t requested, size_t in_use, size_t cached, const std::string& detail) {
    return fmt::format("cuda allocate: out of memory: asked for {} bytes ({:.1f} MiB) with {} bytes in use and {} "
                       "bytes cached by tapegrad (after emptying the cache and retrying once): {}",
                       requested, requested / 1048576.0, in_use, cached, detail);
}

}  // namespace tapegrad::cuda
