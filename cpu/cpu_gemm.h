// The CPU backend's matrix products, on libraries that pick their kernels for the CPU they run on:
//   small products (at most kSmallGemmWork multiply-adds a block, such as [32, 128] x [128, 512])
//     on libxsmm, which JIT-compiles a kernel for each shape and instruction set and copies
//     nothing; it needs B untransposed, so a matrix multiplied by many times is prepared once as
//     B [K, N];
//   everything else on OpenBLAS (one thread a call), which packs both operands into cache
//     blocks on every call: that costs little next to a large product.
// Chosen by measurement: libxsmm was the fastest on the small products, OpenBLAS on the large
// ones, BLIS on neither (bench/bench_gemm.cpp; docs/BENCHMARKS.md, "The library choice").
//
// Threads: a product is cut into blocks of rows or columns of C that depend only on its shape
// (never on the thread count, so results are bit-identical with any number of threads), and the
// blocks run on the pool of cpu/cpu_threads.h, one single-threaded library call each.
#pragma once
#include <cstdint>
#include <string>

namespace tapegrad {

// Multiply-adds per block of a product shared among threads (about 5 microseconds of work).
constexpr int64_t kGemmBlockWork = int64_t(1) << 19;
// A product is cut into at most this many blocks: more made OpenBLAS's large products slower,
// since each block packs its share of the operands anew (docs/BENCHMARKS.md, "The library choice").
constexpr int64_t kMaxGemmBlocks = 8;
// A block of at most this many multiply-adds, with B untransposed, runs on libxsmm.
constexpr int64_t kSmallGemmWork = int64_t(1) << 21;

// One row-major product and what is added to it:
//   C [m, n] = op(A) [m, k] op(B) [k, n] + (addend [m, n] when not null, else beta C) + bias [n]
// op(X) = X^T when the flag is set (X then stored [k, m] or [n, k]); lda, ldb, ldc, ld_addend are
// the row strides of the stored matrices. beta is 0 or 1.
template <typename T>
struct GemmPart {
    int64_t m = 0, n = 0, k = 0;
    const T* a = nullptr;
    int64_t lda = 0;
    bool transpose_a = false;
    const T* b = nullptr;
    int64_t ldb = 0;
    bool transpose_b = false;
    T* c = nullptr;
    int64_t ldc = 0;
    T beta = 0;
    const T* addend = nullptr;
    int64_t ld_addend = 0;
    const T* bias = nullptr;
};

// Runs each product, cut into blocks, on the pool; returns when all are done.
template <typename T>
void cpu_gemm(const GemmPart<T>* products, int64_t count);

// "matrix products: libxsmm 1.17 (target clx) for small blocks, OpenBLAS 0.3.21 (core SkylakeX)"
std::string gemm_path_summary();

}  // namespace tapegrad
