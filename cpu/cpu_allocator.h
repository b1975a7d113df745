// A caching allocator for CPU tensors (the idea of PyTorch's CUDA caching allocator, on the host).
//
// A training step allocates and frees the same sizes over and over. Handing freed blocks back to
// malloc costs a lot for big ones (glibc returns them to the OS, and the next step page-faults
// them in again, zeroing every page) and a little for small ones. Freed blocks are kept in
// per-size-class free lists instead and reused by the next request of that class.
#pragma once
#include <cstddef>

namespace tapegrad {

void* cpu_allocate(size_t bytes);
void cpu_deallocate(void* ptr, size_t bytes);

}  // namespace tapegrad
