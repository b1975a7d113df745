// The CUDA API in a build without CUDA support: no devices, and a clear error for anything else.
#ifndef TAPEGRAD_CUDA
#include "../core/error.h"
#include "cuda.h"

namespace tapegrad::cuda {

namespace {
[[noreturn]] void not_built(const char* what) {
    fail(what, "tapegrad was built without CUDA support (no nvcc found, or CUDA=0); rebuild with nvcc on PATH");
}
}  // namespace

bool is_available() { return false; }
int device_count() { return 0; }
std::string device_name(int) { not_built("cuda::device_name"); }
MemoryStats memory_stats() { return {}; }
void empty_cache() {}
void synchronize() {}

}  // namespace tapegrad::cuda
#endif
