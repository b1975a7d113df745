// Host code of the CUDA API shared by CPU-only and CUDA builds.
#include <fmt/format.h>

#include "cuda.h"

namespace tapegrad::cuda {

std::string out_of_memory_message(size_t requested, size_t in_use, size_t cached, const std::string& detail) {
    return fmt::format("cuda allocate: out of memory: asked for {} bytes ({:.1f} MiB) with {} bytes in use and {} "
                       "bytes cached by tapegrad (after emptying the cache and retrying once): {}",
                       requested, requested / 1048576.0, in_use, cached, detail);
}

}  // namespace tapegrad::cuda
