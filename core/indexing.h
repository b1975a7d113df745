/// \file
/// Index arithmetic shared by the CPU and CUDA kernels (TG_HD: host and device).
///
/// A StridedLayout describes how to walk a tensor of `shape` whose element at multi-index
/// (i_0, ..., i_{d-1}) sits at  offset + sum_k i_k * stride[k]. Contiguous row-major tensors have
/// stride[k] = prod(shape[k+1:]); a broadcast operand has stride 0 along the dims it is repeated
/// in; a transposed or sliced view just has other strides and offset. Every data-movement op
/// (transpose, slice, concat, broadcast) is a strided copy described by two such layouts.
#pragma once
#include <cstdint>

#include "hostdevice.h"

namespace tapegrad {

/// The most dims a StridedLayout (and so a tensor a kernel walks) may have.
constexpr int kMaxDims = 8;

/// How a kernel walks one tensor (see the file's description): element (i_0, ..., i_{ndim-1}) is at offset + sum_k i_k stride[k].
struct StridedLayout {
    int ndim = 0;  ///< the number of dims in use
    int64_t offset = 0;  ///< in elements, from the tensor's first element
    int64_t shape[kMaxDims] = {};  ///< extents of the first ndim dims
    int64_t stride[kMaxDims] = {};  ///< element strides of the first ndim dims (0 along a broadcast dim)
};

/// Whether a broadcast layout repeats its tensor along some dim (stride 0 where the extent is > 1):
/// then several linear indices share one memory offset.
TG_HD bool is_broadcast(const StridedLayout& layout) {
    for (int k = 0; k < layout.ndim; ++k)
        if (layout.stride[k] == 0 && layout.shape[k] > 1) return true;
    return false;
}

/// Memory offset of the element with row-major linear index `linear` in `layout.shape`.
TG_HD int64_t strided_offset(const StridedLayout& layout, int64_t linear) {
    int64_t offset = layout.offset;
    for (int k = layout.ndim - 1; k >= 0; --k) {
        int64_t i = linear % layout.shape[k];
        linear /= layout.shape[k];
        offset += i * layout.stride[k];
    }
    return offset;
}

/// Grid-stride loop bounds for CUDA thread `thread` of `threads_total`: the elements a thread
/// handles are first, first + step, ... < n. Written here so CPU tests can emulate any
/// (blockIdx, blockDim, threadIdx) and check that every element is visited exactly once.
/// A CUDA thread's share of a flat loop: the first element it handles and the step to its next one.
struct GridStride {
    /// first: this thread's first index; step: the number of threads in the grid
    ///@{
    int64_t first, step;
    ///@}
};
/// The grid-stride loop of thread `thread_idx` of block `block_idx` (blocks of `block_dim` threads, `grid_dim` blocks).
TG_HD GridStride grid_stride(int64_t block_idx, int64_t block_dim, int64_t thread_idx, int64_t grid_dim) {
    return {block_idx * block_dim + thread_idx, block_dim * grid_dim};
}

}  // namespace tapegrad
