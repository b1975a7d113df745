// The GEMM floor of the benchmarks: a product at OpenBLAS's speed on the same threads as the step
// it is compared with. C's longer side is cut into one part per thread of the CPU backend's pool
// (cpu/cpu_threads.h), each part one cblas_sgemm call (OpenBLAS runs one thread a call, as the
// backend sets it). So a step at 1.0x its floor runs its products as fast as plain OpenBLAS would
// on those threads, and anything above is the cost of everything else.
#pragma once
#include <cblas.h>

#include <cstdint>

#include "cpu/cpu_threads.h"

namespace tapegrad::bench {

// C [m, n] = op(A) op(B) + beta C, row-major, op(X) = X^T where flagged (cblas_sgemm's meaning).
inline void floor_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                        int64_t ldb, float beta, float* c, int64_t ldc) {
    const int64_t parts = num_threads();
    const bool by_rows = m > n;
    parallel_chunks(parts, [&](int64_t p) {
        const int64_t side = by_rows ? m : n, begin = side * p / parts, end = side * (p + 1) / parts;
        if (end == begin) return;
        const float* pa = by_rows ? (ta ? a + begin : a + begin * lda) : a;
        const float* pb = by_rows ? b : (tb ? b + begin * ldb : b + begin);
        float* pc = by_rows ? c + begin * ldc : c + begin;
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(by_rows ? end - begin : m),
                    int(by_rows ? n : end - begin), int(k), 1.0f, pa, int(lda), pb, int(ldb), beta, pc, int(ldc));
    });
}

}  // namespace tapegrad::bench
