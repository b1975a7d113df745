// Out-of-range indices on the GPU, reported without a synchronisation per op.
//
// On the CPU, gather, index_select and cross_entropy check their indices before the kernel runs
// (check_indices, ops/shape_ops.cpp). On a GPU that check would copy the indices to the host: a
// synchronisation per op. Instead the gather and scatter kernels check each index as they read
// it; a thread that meets one out of range records it in its device's IndexError (a few bytes of
// device memory) and reads nothing there (gather writes 0). The host reads the record at the next
// synchronisation point (copy_to_host, cuda::synchronize) and throws a tapegrad::Error naming the
// op, the index, its position in the index tensor and the valid range, then clears the record.
// Of several bad indices the record keeps the first to be written: the first launch's, and within
// it whichever thread got there first.
#pragma once
#include <cstdint>

namespace tapegrad::cuda {

// The record on a device, written by the first thread to claim it (claimed 0 -> 1).
struct IndexError {
    unsigned long long claimed;
    long long value, position, range;
    int op;  // the IndexCheck::op of the launch that recorded it
};

// What a gather or scatter launch passes its kernel: its device's record and a number for its op.
struct IndexCheck {
    IndexError* record;
    int op;
};

// The record of `device` (the current device) for a launch of `op`; the next report reads it.
IndexCheck index_check(int device, const char* op);

// Throws if a kernel recorded an out-of-range index since the last report; `where` names the
// synchronisation point that found it.
void report_index_errors(const char* where);

}  // namespace tapegrad::cuda
