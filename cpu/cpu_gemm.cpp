#include "cpu_gemm.h"

#include <cblas.h>
#include <libxsmm.h>

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "cpu_threads.h"

extern "C" char* openblas_get_corename(void);
extern "C" void openblas_set_num_threads(int);

namespace tapegrad {

namespace {

// OpenBLAS runs each block on the calling thread: the blocks are shared among tapegrad's threads.
[[maybe_unused]] const bool openblas_single_threaded = (openblas_set_num_threads(1), true);

// libxsmm is column-major: the row-major C = op(A) B is its C^T = B^T op(A)^T, with B (row-major
// [k, n]) read as a column-major [n, k] and A as [k, m] (or, stored transposed, flagged TRANS_B).
// libxsmm generates kernels for alpha = 1 and beta 0 or 1, and none for its TRANS_A (our B^T).
libxsmm_smmfunction small_kernel(const GemmPart<float>& p, const float* beta, const int* flags) {
    const libxsmm_blasint lda = p.ldb, ldb = p.lda, ldc = p.ldc;
    const float one = 1;
    return libxsmm_smmdispatch(p.n, p.m, p.k, &lda, &ldb, &ldc, &one, beta, flags, nullptr);
}
libxsmm_dmmfunction small_kernel(const GemmPart<double>& p, const double* beta, const int* flags) {
    const libxsmm_blasint lda = p.ldb, ldb = p.lda, ldc = p.ldc;
    const double one = 1;
    return libxsmm_dmmdispatch(p.n, p.m, p.k, &lda, &ldb, &ldc, &one, beta, flags, nullptr);
}

void blas_gemm(const GemmPart<float>& p, float beta) {
    cblas_sgemm(CblasRowMajor, p.transpose_a ? CblasTrans : CblasNoTrans, p.transpose_b ? CblasTrans : CblasNoTrans,
                p.m, p.n, p.k, 1.0f, p.a, p.lda, p.b, p.ldb, beta, p.c, p.ldc);
}
void blas_gemm(const GemmPart<double>& p, double beta) {
    cblas_dgemm(CblasRowMajor, p.transpose_a ? CblasTrans : CblasNoTrans, p.transpose_b ? CblasTrans : CblasNoTrans,
                p.m, p.n, p.k, 1.0, p.a, p.lda, p.b, p.ldb, beta, p.c, p.ldc);
}

// One block on the calling thread:
//   C = addend (or beta C) + bias, then C += op(A) B on libxsmm when small, else on OpenBLAS.
template <typename T>
void run_block(const GemmPart<T>& p) {
    if (p.m == 0 || p.n == 0) return;
    T beta = p.beta;
    if (p.addend || p.bias) {
        for (int64_t i = 0; i < p.m; ++i) {
            T* row = p.c + i * p.ldc;
            const T* add = p.addend ? p.addend + i * p.ld_addend : nullptr;
            for (int64_t j = 0; j < p.n; ++j)
                row[j] = (add ? add[j] : beta != T(0) ? row[j] : T(0)) + (p.bias ? p.bias[j] : T(0));
        }
        beta = 1;
    }
    if (p.k == 0) {
        if (beta == T(0))
            for (int64_t i = 0; i < p.m; ++i) std::fill_n(p.c + i * p.ldc, p.n, T(0));
        return;
    }
    if (!p.transpose_b && p.m * p.n * p.k <= kSmallGemmWork) {
        const int flags = p.transpose_a ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
        if (auto kernel = small_kernel(p, &beta, &flags)) {
            kernel(p.b, p.a, p.c);
            return;
        }
    }
    blas_gemm(p, beta);
}

// The block [begin, end) of the rows (by_rows) or columns of C.
template <typename T>
GemmPart<T> block_of(const GemmPart<T>& p, bool by_rows, int64_t begin, int64_t end) {
    GemmPart<T> b = p;
    if (by_rows) {
        b.m = end - begin;
        b.a += p.transpose_a ? begin : begin * p.lda;
        b.c += begin * p.ldc;
        if (p.addend) b.addend += begin * p.ld_addend;
    } else {
        b.n = end - begin;
        b.b += p.transpose_b ? begin * p.ldb : begin;
        b.c += begin;
        if (p.addend) b.addend += begin;
        if (p.bias) b.bias += begin;
    }
    return b;
}

// A product's blocks: one per kGemmBlockWork multiply-adds, at most kMaxGemmBlocks, along the
// longer side of C, each a multiple of 16 rows or columns (whole vector registers), from the shape
// alone.
template <typename T>
void append_blocks(const GemmPart<T>& p, std::vector<GemmPart<T>>& blocks) {
    const bool by_rows = p.m > p.n;
    const int64_t side = by_rows ? p.m : p.n;
    const int64_t count = std::clamp<int64_t>(std::min(p.m * p.n * std::max<int64_t>(p.k, 1) / kGemmBlockWork, side / 16),
                                              1, kMaxGemmBlocks);
    for (int64_t i = 0; i < count; ++i) {
        const int64_t begin = i == 0 ? 0 : side * i / count / 16 * 16, end = i + 1 == count ? side : side * (i + 1) / count / 16 * 16;
        blocks.push_back(block_of(p, by_rows, begin, end));
    }
}

}  // namespace

template <typename T>
void cpu_gemm(const GemmPart<T>* products, int64_t count) {
    std::vector<GemmPart<T>> blocks;
    for (int64_t i = 0; i < count; ++i) append_blocks(products[i], blocks);
    run_chunks(
        int64_t(blocks.size()),
        [](void* context, int64_t i) { run_block((*static_cast<std::vector<GemmPart<T>>*>(context))[size_t(i)]); },
        &blocks);
}

template void cpu_gemm<float>(const GemmPart<float>*, int64_t);
template void cpu_gemm<double>(const GemmPart<double>*, int64_t);

std::string gemm_path_summary() {
    return fmt::format("matrix products: libxsmm {} (target {}) for blocks up to {} multiply-adds, else OpenBLAS "
                       "(core {}, one thread a call); {} multiply-adds a block",
                       LIBXSMM_VERSION, libxsmm_get_target_arch(), kSmallGemmWork, openblas_get_corename(),
                       kGemmBlockWork);
}

}  // namespace tapegrad
