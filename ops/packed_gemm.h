// A matrix product for loops that multiply by the same matrix again and again (the per-step
// h U^T of a recurrence): the right operand is packed ONCE into the layout the kernel streams,
// then every product reuses it.
//
// Why not cblas_sgemm: OpenBLAS packs both operands into its own layout on every call. For a
// recurrent step, h [32, 128] x U^T [128, 512], that is 64K floats copied to do 4.2 MFLOP, and
// the copies cost about a third of the call (measured: 130 GFLOP/s on 2 Zen 4 cores for that
// shape, against 200 GFLOP/s here with U packed once; bench_cells prints both).
//
// Layout: B [K, N] is cut into panels of W = 64 bytes / sizeof(T) columns (16 floats, 8 doubles:
// one AVX-512 register), the last one padded with zeros; panel p is stored [K, W] row by row, so
// the kernel reads it as one contiguous stream:
//   packed[(p * K + k) * W + j] = B[k, p * W + j]
// Gate-major output: with `groups` > 1 the N columns are `groups` blocks of N / groups (an LSTM's
// gates), each packed to whole panels of its own, and C is written [groups, M, N / groups], so
// that each gate of the product is one contiguous [M, N / groups] block (no slicing copies).
// The kernel computes a block of up to 6 rows x 2 panels of C in 12 vector accumulators:
//   C[i, cols] = addend[i, cols] (or beta C[i, cols]) + bias[cols] + sum_k A[i, k] packed[p][k, :]
// with vectors written as GCC vector types, so the same code compiles to AVX-512, AVX2 or SSE.
// CPU only: the CUDA backend hands these products to cuBLAS.
#pragma once
#include <cstdint>

namespace tapegrad {

// Columns per panel for element type T.
template <typename T>
constexpr int64_t packed_panel_width() {
    return int64_t(64 / sizeof(T));
}

// Elements the packed form of a [K, N] matrix in `groups` column blocks takes: K times each block's
// width rounded up to whole panels.
template <typename T>
int64_t packed_size(int64_t k, int64_t n, int64_t groups = 1) {
    const int64_t w = packed_panel_width<T>(), width = n / groups;
    return groups * ((width + w - 1) / w * w) * k;
}

// packed <- B, where B = b [K, N] (row-major), or b^T when `transpose` (b is then [N, K]); N must
// be a multiple of `groups`.
template <typename T>
void pack_panels(const T* b, int64_t k, int64_t n, bool transpose, int64_t groups, T* packed);

// c = a [M, K] B + (addend [M, N] when not null, else beta * c) + bias [N] (when not null), B
// packed by pack_panels with `groups`; c is [M, N] for one group, else gate-major
// [groups, M, N / groups]. a and addend are row-major [M, K], [M, N]. Threads (OpenMP) split the
// work when it is large.
template <typename T>
void gemm_panels(const T* a, int64_t m, int64_t k, const T* packed, int64_t n, int64_t groups, const T* addend,
                 const T* bias, T beta, T* c);

}  // namespace tapegrad
