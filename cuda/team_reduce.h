// Deterministic reductions over a row, shared by the sum, max and softmax kernels.
//
// A block's kBlock threads split into teams of Width consecutive threads: Width 1 (every thread
// alone), 32 (a warp) or kBlock (the whole block). A team reduces one row at a time: lane l folds
// the row's elements l, l + Width, l + 2 Width, ... in order into its partial, then the team
// combines its lanes' partials in a fixed tree:
//
//   within a warp, a butterfly: at step d = 16, 8, 4, 2, 1 lane l combines its value with lane l^d's
//   (__shfl_xor_sync). combine(a, b) == combine(b, a) bit for bit (a + b is commutative, and the
//   max below is a total order), so every lane ends with the same bits;
//   across the warps of a block, warp 0's total combined with warp 1's, then warp 2's, ... .
//
// Which elements a lane folds and the tree depend on Width and the row only, never on the grid or
// on timing: a row gives the same bits on every run (no atomics). The host chooses Width from the
// sizes alone (team_width in cuda_backend.cu).
#pragma once
#include <cstdint>

#include "launch.h"

namespace tapegrad::cuda {

// Rows r = first team of this thread, stepping by the grid's team count.
#define TG_TEAM_LOOP(r, rows, Width)                                                                     \
    for (int64_t r = int64_t(blockIdx.x) * (kBlock / (Width)) + threadIdx.x / (Width); r < (rows); \
         r += int64_t(gridDim.x) * (kBlock / (Width)))

template <int Width>
__device__ __forceinline__ int team_lane() { return int(threadIdx.x % Width); }

// The candidate of a max: a value and its index in the row; index -1 is "no candidate".
template <typename T>
struct Best {
    T value;
    int64_t index;
};

__device__ __forceinline__ float shuffle_xor(float v, int d) { return __shfl_xor_sync(0xffffffffu, v, d); }
__device__ __forceinline__ double shuffle_xor(double v, int d) { return __shfl_xor_sync(0xffffffffu, v, d); }
__device__ __forceinline__ int64_t shuffle_xor(int64_t v, int d) {
    return int64_t(__shfl_xor_sync(0xffffffffu, (long long)v, d));
}
template <typename T>
__device__ __forceinline__ Best<T> shuffle_xor(Best<T> v, int d) { return {shuffle_xor(v.value, d), shuffle_xor(v.index, d)}; }

struct Plus {
    template <typename T>
    __device__ T operator()(T a, T b) const { return a + b; }
};

// The larger of a and b (NaN rows end up NaN through the sums that follow the max in softmax).
struct Larger {
    template <typename T>
    __device__ T operator()(T a, T b) const { return b > a ? b : a; }
};

// max with the CPU's argmax: the CPU walks j = 1, 2, ... keeping best unless x_j > x_best, so it
// returns the FIRST index of the largest value, skips NaN after the first element, and keeps a NaN
// first element. As an order: a NaN at index 0 first, then larger values, then (ties) smaller
// indices; "no candidate" (index -1: an empty share, or a NaN it skips) last. The max of a total
// order is the same in any grouping, so the tree gives the CPU's answer.
struct FirstLargest {
    template <typename T>
    __device__ Best<T> operator()(Best<T> a, Best<T> b) const { return beats(b, a) ? b : a; }

    template <typename T>
    __device__ static bool beats(const Best<T>& a, const Best<T>& b) {
        if (a.index < 0) return false;
        if (b.index < 0) return true;
        if (a.value != a.value) return true;  // NaN: only ever the first element (see candidate)
        if (b.value != b.value) return false;
        if (a.value != b.value) return a.value > b.value;
        return a.index < b.index;
    }
};

// Element j of a row as a max candidate: a NaN after the first element is none (the CPU skips it).
template <typename T>
__device__ __forceinline__ Best<T> candidate(T value, int64_t index) {
    return {value, value != value && index != 0 ? int64_t(-1) : index};
}

// Combines v over the team (see the file's description); every lane returns the result. For
// Width == kBlock, `scratch` is a __shared__ array of kBlock / 32 entries and the whole block must
// call this together.
template <int Width, typename T, typename Combine>
__device__ T team_reduce(T v, Combine combine, T* scratch) {
    if constexpr (Width == 1) {
        return v;
    } else {
        for (int d = 16; d > 0; d /= 2) v = combine(v, shuffle_xor(v, d));
        if constexpr (Width == 32) {
            return v;
        } else {
            static_assert(Width == kBlock, "teams are 1 thread, a warp or a block");
            const int warp = int(threadIdx.x) / 32;
            if (threadIdx.x % 32 == 0) scratch[warp] = v;
            __syncthreads();
            v = scratch[0];
            for (int w = 1; w < kBlock / 32; ++w) v = combine(v, scratch[w]);
            __syncthreads();  // scratch is free for the next call
            return v;
        }
    }
}

}  // namespace tapegrad::cuda
