#include "cpu_allocator.h"

#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "../core/error.h"

namespace tapegrad {

namespace {
// Blocks are 64-byte aligned (AVX-512 loads). Sizes round up to a class: multiples of 64 bytes up
// to 512, then 8 classes per power of two (at most 12.5% slack).
size_t size_class(size_t bytes) {
    if (bytes <= 512) return (bytes + 63) / 64 * 64;
    size_t top = size_t(1) << (63 - __builtin_clzll(bytes));  // highest power of two <= bytes
    size_t step = top / 8;
    return (bytes + step - 1) / step * step;
}

// Above this many cached bytes, freed blocks go back to the system instead of the cache.
// Half the machine's memory: a large train step frees several GiB of activations, and with a
// smaller cap they went back to the OS only to be page-faulted in again the next step
// (docs/BENCHMARKS.md, "The cells").
size_t max_cached_bytes() {
    static const size_t cap = size_t(sysconf(_SC_PHYS_PAGES)) * size_t(sysconf(_SC_PAGE_SIZE)) / 2;
    return cap;
}

struct Cache {
    std::mutex mutex;
    std::unordered_map<size_t, std::vector<void*>> free_blocks;  // size class -> blocks
    size_t cached_bytes = 0;
};

// Never destroyed: tensors held by static objects may be freed after main returns.
Cache& cache() {
    static Cache* instance = new Cache;
    return *instance;
}
}  // namespace

void* cpu_allocate(size_t bytes) {
    size_t rounded = size_class(bytes == 0 ? 1 : bytes);
    Cache& c = cache();
    {
        std::lock_guard<std::mutex> lock(c.mutex);
        auto it = c.free_blocks.find(rounded);
        if (it != c.free_blocks.end() && !it->second.empty()) {
            void* block = it->second.back();
            it->second.pop_back();
            c.cached_bytes -= rounded;
            return block;
        }
    }
    void* block = std::aligned_alloc(64, rounded);
    if (!block) fail("cpu allocate", "out of memory allocating {} bytes", bytes);
    return block;
}

void cpu_deallocate(void* ptr, size_t bytes) {
    size_t rounded = size_class(bytes == 0 ? 1 : bytes);
    Cache& c = cache();
    {
        std::lock_guard<std::mutex> lock(c.mutex);
        if (c.cached_bytes + rounded <= max_cached_bytes()) {
            c.free_blocks[rounded].push_back(ptr);
            c.cached_bytes += rounded;
            return;
        }
    }
    std::free(ptr);
}

}  // namespace tapegrad
