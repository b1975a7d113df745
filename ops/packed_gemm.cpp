#include "ops/packed_gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

namespace tapegrad {

namespace {

// One vector register of T: 64 bytes, W = packed_panel_width<T>() lanes. (The attribute cannot
// apply to a template parameter directly, hence one definition per type.)
template <typename T>
struct VectorOf;
template <>
struct VectorOf<float> {
    typedef float type __attribute__((vector_size(64)));
};
template <>
struct VectorOf<double> {
    typedef double type __attribute__((vector_size(64)));
};
template <typename T>
using Vec = typename VectorOf<T>::type;

template <typename T>
Vec<T> load(const T* p) {
    Vec<T> v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

constexpr int64_t kRows = 6;    // rows of C per block
constexpr int64_t kPanels = 2;  // panels (of W columns) per block

// The block C[0..R, 0..cols) at `c` (row stride ldc), cols <= P * W, from R rows of a (row stride
// k) and P consecutive panels starting at `panel`:
//   acc[r][p] = sum_k a[r, k] * panel_p[k, :]      (R * P vector accumulators, in registers)
//   C = acc + (addend (row stride ld_addend) or beta * C) + bias (when not null)
template <typename T, int R, int P>
void block(const T* a, int64_t k, const T* panel, const T* addend, int64_t ld_addend, const T* bias, T beta, T* c,
           int64_t ldc, int64_t cols) {
    constexpr int64_t W = packed_panel_width<T>();
    Vec<T> acc[R][P];
    for (int r = 0; r < R; ++r)
        for (int p = 0; p < P; ++p) acc[r][p] = Vec<T>{};
    for (int64_t kk = 0; kk < k; ++kk) {
        Vec<T> b[P];
        for (int p = 0; p < P; ++p) b[p] = load(panel + (p * k + kk) * W);
        for (int r = 0; r < R; ++r) {
            const T x = a[r * k + kk];
            for (int p = 0; p < P; ++p) acc[r][p] += x * b[p];
        }
    }
    for (int r = 0; r < R; ++r) {
        T* row = c + r * ldc;
        const T* add = addend ? addend + r * ld_addend : nullptr;
        if (cols == P * W) {
            for (int p = 0; p < P; ++p) {
                Vec<T> base = add ? load(add + p * W) : beta != T(0) ? beta * load(row + p * W) : Vec<T>{};
                if (bias) base += load(bias + p * W);
                Vec<T> out = acc[r][p] + base;
                std::memcpy(row + p * W, &out, sizeof out);
            }
        } else {
            T lanes[P * W];
            std::memcpy(lanes, acc[r], sizeof lanes);
            for (int64_t j = 0; j < cols; ++j)
                row[j] = lanes[j] + (add ? add[j] : beta != T(0) ? beta * row[j] : T(0)) + (bias ? bias[j] : T(0));
        }
    }
}

// Dispatches the runtime row count (1..kRows) and panel count (1..kPanels) to a compiled block.
template <typename T>
void any_block(int64_t rows, int64_t panels, const T* a, int64_t k, const T* panel, const T* addend, int64_t ld_addend,
               const T* bias, T beta, T* c, int64_t ldc, int64_t cols) {
    using Fn = void (*)(const T*, int64_t, const T*, const T*, int64_t, const T*, T, T*, int64_t, int64_t);
    static constexpr Fn table[kRows][kPanels] = {
        {block<T, 1, 1>, block<T, 1, 2>}, {block<T, 2, 1>, block<T, 2, 2>}, {block<T, 3, 1>, block<T, 3, 2>},
        {block<T, 4, 1>, block<T, 4, 2>}, {block<T, 5, 1>, block<T, 5, 2>}, {block<T, 6, 1>, block<T, 6, 2>},
    };
    table[rows - 1][panels - 1](a, k, panel, addend, ld_addend, bias, beta, c, ldc, cols);
}

// Below this many multiply-adds a product runs on the calling thread (a parallel region costs a
// few microseconds: about 100K multiply-adds at this kernel's speed).
constexpr int64_t kParallelWork = 1 << 17;

}  // namespace

template <typename T>
void pack_panels(const T* b, int64_t k, int64_t n, bool transpose, int64_t groups, T* packed) {
    const int64_t w = packed_panel_width<T>(), width = n / groups, panels = (width + w - 1) / w;
    // Panel q (numbered group by group) holds columns g * width + p * w .. of group g = q / panels.
    auto pack = [=](int64_t q) {
        const int64_t g = q / panels, p = q % panels;
        for (int64_t kk = 0; kk < k; ++kk)
            for (int64_t j = 0; j < w; ++j) {
                const int64_t within = p * w + j, col = g * width + within;
                packed[(q * k + kk) * w + j] = within >= width ? T(0) : transpose ? b[col * k + kk] : b[kk * n + col];
            }
    };
    // A big weight (PR-LSTM's merge, 1280 x 512, packed at every call of linear()) on all threads.
    const bool parallel = k * n > kParallelWork / 8 && omp_get_max_threads() > 1;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t q = 0; q < groups * panels; ++q) pack(q);
}

template <typename T>
void gemm_panels(const T* a, int64_t m, int64_t k, const T* packed, int64_t n, int64_t groups, const T* addend,
                 const T* bias, T beta, T* c) {
    const int64_t w = packed_panel_width<T>(), span = kPanels * w, width = n / groups;
    const int64_t panels = (width + w - 1) / w;  // per group
    const int64_t row_blocks = (m + kRows - 1) / kRows, col_blocks = (width + span - 1) / span;
    // Blocks are numbered group first. Few rows (a recurrent step's [32, K]): then column block,
    // then row block, so that a thread's contiguous share reads as few panels of B as possible (B
    // stays in that core's cache). Many rows (a projection of all steps): then row block, then
    // column block, so that A streams through once, its 6 rows in L1 while all of B passes by
    // (measured on [8192, 128] x [128, 512]: 10-25% faster than the other order and than OpenBLAS).
    const bool rows_outer = row_blocks >= 16;
    auto run = [=](int64_t begin, int64_t end) {
        for (int64_t blk = begin; blk < end; ++blk) {
            const int64_t g = blk / (col_blocks * row_blocks), within = blk % (col_blocks * row_blocks);
            const int64_t cb = rows_outer ? within % col_blocks : within / row_blocks;
            const int64_t rb = rows_outer ? within / col_blocks : within % row_blocks;
            const int64_t row = rb * kRows, col = cb * span;  // col: within the group
            const int64_t rows = std::min(kRows, m - row), cols = std::min(span, width - col);
            const T* group_panels = packed + g * panels * w * k;
            // c is [groups, M, width] (for one group simply [M, N]).
            any_block<T>(rows, (cols + w - 1) / w, a + row * k, k, group_panels + col * k,
                         addend ? addend + row * n + g * width + col : nullptr, n, bias ? bias + g * width + col : nullptr,
                         beta, c + (g * m + row) * width + col, width, cols);
        }
    };
    const int64_t blocks = groups * row_blocks * col_blocks;
    if (m * n * k <= kParallelWork || omp_get_max_threads() == 1) {
        run(0, blocks);
        return;
    }
#pragma omp parallel
    {
        const int64_t threads = omp_get_num_threads(), id = omp_get_thread_num();
        const int64_t share = (blocks + threads - 1) / threads;
        run(std::min(blocks, id * share), std::min(blocks, (id + 1) * share));
    }
}

template void pack_panels<float>(const float*, int64_t, int64_t, bool, int64_t, float*);
template void pack_panels<double>(const double*, int64_t, int64_t, bool, int64_t, double*);
template void gemm_panels<float>(const float*, int64_t, int64_t, const float*, int64_t, int64_t, const float*,
                                 const float*, float, float*);
template void gemm_panels<double>(const double*, int64_t, int64_t, const double*, int64_t, int64_t, const double*,
                                  const double*, double, double*);

}  // namespace tapegrad
