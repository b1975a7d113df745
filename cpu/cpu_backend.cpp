// The CPU backend: plain loops over contiguous arrays, shared among threads where the work is
// large enough to pay for it (cpu/cpu_threads.h), libxsmm and OpenBLAS for the matrix products
// (cpu/cpu_gemm.h). The per-element
// math comes from core/elementwise_math.h, shared with the CUDA kernels.
#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../core/backend.h"
#include "cpu_allocator.h"
#include "../core/elementwise_math.h"
#include "../core/layout.h"
#include "../core/optimizer_math.h"
#include "cpu_gemm.h"
#include "cpu_isa_check.h"
#include "cpu_threads.h"
#include "vector_math.h"

namespace tapegrad {
namespace {

// Strided loops walk rows of the last dim: a RowCursor finds where each row starts, and the row
// itself is a simple strided loop.
int64_t row_length(const StridedLayout& layout) { return layout.ndim > 0 ? layout.shape[layout.ndim - 1] : 1; }
int64_t last_stride(const StridedLayout& layout) { return layout.ndim > 0 ? layout.stride[layout.ndim - 1] : 1; }

// The memory offsets of a layout's rows, row `first` and on, one next() per row: an odometer over
// the outer dims. strided_offset per row would cost a division and a remainder per dim, which for
// rows of 128 elements took longer than the row's arithmetic.
class RowCursor {
public:
    RowCursor(const StridedLayout& layout, int64_t first) : layout_(layout), offset_(layout.offset) {
        for (int k = layout.ndim - 2; k >= 0; --k) {
            if (layout.shape[k] == 0) return;  // an empty layout has no rows to find
            index_[k] = first % layout.shape[k];
            first /= layout.shape[k];
            offset_ += index_[k] * layout.stride[k];
        }
    }
    int64_t offset() const { return offset_; }
    void next() {
        for (int k = layout_.ndim - 2; k >= 0; --k) {
            offset_ += layout_.stride[k];
            if (++index_[k] < layout_.shape[k]) return;
            offset_ -= layout_.stride[k] * layout_.shape[k];
            index_[k] = 0;
        }
    }

private:
    const StridedLayout& layout_;
    int64_t offset_;
    int64_t index_[kMaxDims] = {};
};

// body(j, ia, ib) for j < length with ia = j * stride_a, ib = j * stride_b. Broadcast rows almost
// always have unit or zero strides: those cases get their own loops, which the compiler vectorises
// (with the strides unknown at compile time it does not).
template <typename Body>
inline void strided_row(int64_t length, int64_t stride_a, int64_t stride_b, Body body) {
    if (stride_a == 1 && stride_b == 1) {
#pragma omp simd
        for (int64_t j = 0; j < length; ++j) body(j, j, j);
    } else if (stride_a == 1 && stride_b == 0) {
#pragma omp simd
        for (int64_t j = 0; j < length; ++j) body(j, j, int64_t(0));
    } else if (stride_a == 0 && stride_b == 1) {
#pragma omp simd
        for (int64_t j = 0; j < length; ++j) body(j, int64_t(0), j);
    } else {
        for (int64_t j = 0; j < length; ++j) body(j, j * stride_a, j * stride_b);
    }
}


class CpuBackend final : public Backend {
public:
    std::string name() const override { return "cpu"; }

    void* allocate(Device, size_t bytes) override { return cpu_allocate(bytes); }
    void deallocate(Device, void* ptr, size_t bytes) override { cpu_deallocate(ptr, bytes); }
    // An empty tensor or vector may have no storage at all, and memcpy's pointers must never be
    // null, not even for 0 bytes (UBSan caught an empty tensor's to_vector).
    void copy_from_host(void* dst, const void* src, size_t bytes) override { if (bytes) std::memcpy(dst, src, bytes); }
    void copy_to_host(void* dst, const void* src, size_t bytes) override { if (bytes) std::memcpy(dst, src, bytes); }
    void copy_within(void* dst, const void* src, size_t bytes) override { if (bytes) std::memmove(dst, src, bytes); }

    void fill(Tensor& y, double value) override {
        int64_t n = y.numel();
        if (y.dtype() == DType::Int64) {
            std::fill_n(y.data<int64_t>(), n, int64_t(value));
            return;
        }
        dispatch_float(y.dtype(), [&](auto t) {
            using T = decltype(t);
            T* p = y.data<T>();
            T v = T(value);
            parallel_for(n, n, [=](int64_t begin, int64_t end) { std::fill(p + begin, p + end, v); });
        });
    }

    void cast(const Tensor& x, Tensor& y) override {
        int64_t n = x.numel();
        dispatch_float(x.dtype(), [&](auto tx) {
            dispatch_float(y.dtype(), [&](auto ty) {
                using X = decltype(tx);
                using Y = decltype(ty);
                const X* src = x.data<X>();
                Y* dst = y.data<Y>();
                parallel_for(n, n, [=](int64_t begin, int64_t end) {
#pragma omp simd
                    for (int64_t i = begin; i < end; ++i) dst[i] = Y(src[i]);
                });
            });
        });
    }

    void unary(UnaryOp op, double scalar, const Tensor& x, Tensor& y) override {
        int64_t n = x.numel();
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = x.data<T>();
            T* out = y.data<T>();
            T s = T(scalar);
            dispatch_unary(op, [&](auto rule) {
                using Rule = decltype(rule);
                parallel_for(n, n, [=](int64_t begin, int64_t end) {
#pragma omp simd
                    for (int64_t i = begin; i < end; ++i) out[i] = Rule::value(in[i], s);
                });
            });
        });
    }

    void unary_backward(UnaryOp op, double scalar, const Tensor& x, const Tensor& y, const Tensor& gy,
                        Tensor& gx, bool accumulate) override {
        int64_t n = x.numel();
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = x.data<T>();
            const T* out = y.data<T>();
            const T* g_out = gy.data<T>();
            T* g_in = gx.data<T>();
            T s = T(scalar);
            dispatch_unary(op, [&](auto rule) {
                using Rule = decltype(rule);
                parallel_for(n, n, [=](int64_t begin, int64_t end) {
#pragma omp simd
                    for (int64_t i = begin; i < end; ++i)
                        g_in[i] = (accumulate ? g_in[i] : T(0)) + g_out[i] * Rule::derivative(in[i], out[i], s);
                });
            });
        });
    }

    void binary(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, Tensor& y) override {
        dispatch_float(a.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* pa = a.data<T>();
            const T* pb = b.data<T>();
            T* out = y.data<T>();
            int64_t n = plan.numel;
            dispatch_binary(op, [&](auto rule) {
                using Rule = decltype(rule);
                if (plan.same_shape) {
                    parallel_for(n, n, [=](int64_t begin, int64_t end) {
#pragma omp simd
                        for (int64_t i = begin; i < end; ++i) out[i] = Rule::value(pa[i], pb[i]);
                    });
                    return;
                }
                int64_t length = row_length(plan.a), sa = last_stride(plan.a), sb = last_stride(plan.b);
                parallel_for(n / std::max<int64_t>(length, 1), n, [=](int64_t begin, int64_t end) {
                    RowCursor row_a(plan.a, begin), row_b(plan.b, begin);
                    for (int64_t r = begin; r < end; ++r, row_a.next(), row_b.next()) {
                        const T* ra = pa + row_a.offset();
                        const T* rb = pb + row_b.offset();
                        T* ry = out + r * length;
                        strided_row(length, sa, sb, [=](int64_t j, int64_t ia, int64_t ib) {
                            ry[j] = Rule::value(ra[ia], rb[ib]);
                        });
                    }
                });
            });
        });
    }

    void binary_backward(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, const Tensor& gy,
                         OperandGrad ga, OperandGrad gb) override {
        if (plan.numel == 0) {  // dL/dy is empty: a fresh gradient is zeros (an operand summed over no elements)
            for (OperandGrad g : {ga, gb})
                if (g.grad && !g.accumulate) fill(*g.grad, 0.0);
            return;
        }
        dispatch_float(a.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* pa = a.data<T>();
            const T* pb = b.data<T>();
            const T* g_out = gy.data<T>();
            int64_t n = plan.numel;
            dispatch_binary(op, [&](auto rule) {
                using Rule = decltype(rule);
                if (plan.same_shape && ga.grad && gb.grad) {  // both in one pass: gy, a, b read once
                    T* g_a = ga.grad->data<T>();
                    T* g_b = gb.grad->data<T>();
                    const bool add_a = ga.accumulate, add_b = gb.accumulate;
                    parallel_for(n, n, [=](int64_t begin, int64_t end) {
#pragma omp simd
                        for (int64_t i = begin; i < end; ++i) {
                            g_a[i] = (add_a ? g_a[i] : T(0)) + g_out[i] * Rule::derivative(0, pa[i], pb[i]);
                            g_b[i] = (add_b ? g_b[i] : T(0)) + g_out[i] * Rule::derivative(1, pa[i], pb[i]);
                        }
                    });
                    return;
                }
                if (ga.grad && gb.grad && both_in_one_pass(plan)) {
                    both_backward<Rule>(plan, pa, pb, g_out, ga, gb);
                    return;
                }
                for (int operand = 0; operand < 2; ++operand) {
                    OperandGrad target = operand == 0 ? ga : gb;
                    if (target.grad) operand_backward<Rule>(operand, plan, pa, pb, g_out, *target.grad, target.accumulate);
                }
            });
        });
    }

    // Broadcast operands whose gradients both come out of one pass over dL/dy, a and b: at least one
    // is summed over the dims it was broadcast along (those rows run on one thread so the sums do
    // not race), neither sums whole rows into one element, and the work is small enough that the
    // operand that is not summed would not have gained from all threads. Per-feature scales of a
    // batch, a [3, 1, H] ⊙ z [B, H] or a [H] ⊙ z [B, H]: one pass instead of one per operand.
    static bool both_in_one_pass(const BroadcastPlan& plan) {
        const bool reduced_a = is_broadcast(plan.a), reduced_b = is_broadcast(plan.b);
        return (reduced_a || reduced_b) && last_stride(plan.a) != 0 && last_stride(plan.b) != 0 &&
               (plan.numel <= kParallelWork || (reduced_a && reduced_b));
    }

    // binary_backward's one-pass form for both operands (both_in_one_pass): each gradient has its
    // operand's layout, so a RowCursor over that layout finds the row of g it adds onto.
    template <typename Rule, typename T>
    static void both_backward(const BroadcastPlan& plan, const T* pa, const T* pb, const T* g_out, OperandGrad ga,
                              OperandGrad gb) {
        T* g_a = ga.grad->data<T>();
        T* g_b = gb.grad->data<T>();
        const bool add_a = adds_onto<T>(*ga.grad, is_broadcast(plan.a), ga.accumulate);
        const bool add_b = adds_onto<T>(*gb.grad, is_broadcast(plan.b), gb.accumulate);
        const int64_t length = row_length(plan.a), sa = last_stride(plan.a), sb = last_stride(plan.b);
        RowCursor row_a(plan.a, 0), row_b(plan.b, 0);
        for (int64_t r = 0; r < plan.numel / std::max<int64_t>(length, 1); ++r, row_a.next(), row_b.next()) {
            const T* ra = pa + row_a.offset();
            const T* rb = pb + row_b.offset();
            T* ga_row = g_a + row_a.offset();
            T* gb_row = g_b + row_b.offset();
            const T* gy_row = g_out + r * length;
            strided_row(length, sa, sb, [=](int64_t j, int64_t ia, int64_t ib) {
                ga_row[ia] = (add_a ? ga_row[ia] : T(0)) + gy_row[j] * Rule::derivative(0, ra[ia], rb[ib]);
                gb_row[ib] = (add_b ? gb_row[ib] : T(0)) + gy_row[j] * Rule::derivative(1, ra[ia], rb[ib]);
            });
        }
    }

    // Whether an operand's gradient rows add onto g (else they overwrite it). Sums over broadcast
    // dims need a zeroed g, so a fresh one is zeroed here; an operand that was not broadcast writes
    // each element once.
    template <typename T>
    static bool adds_onto(Tensor& g, bool reduced, bool accumulate) {
        if (reduced && !accumulate) std::fill_n(g.data<T>(), g.numel(), T(0));
        return accumulate || reduced;
    }

    // One operand's part of binary_backward: g += d(a op b)/d(operand) * gy.
    template <typename Rule, typename T>
    static void operand_backward(int operand, const BroadcastPlan& plan, const T* pa, const T* pb, const T* g_out,
                                 Tensor& g, bool accumulate) {
        T* g_in = g.data<T>();
        int64_t n = plan.numel;
        if (plan.same_shape) {
            parallel_for(n, n, [=](int64_t begin, int64_t end) {
#pragma omp simd
                for (int64_t i = begin; i < end; ++i)
                    g_in[i] = (accumulate ? g_in[i] : T(0)) + g_out[i] * Rule::derivative(operand, pa[i], pb[i]);
            });
            return;
        }
        // g has the operand's shape: output rows land on g through the operand's layout
        // (stride 0 along the dims it was broadcast over, where they sum).
        const StridedLayout target = operand == 0 ? plan.a : plan.b;
        int64_t length = row_length(plan.a), sa = last_stride(plan.a), sb = last_stride(plan.b);
        const bool reduced = is_broadcast(target), row_sum = last_stride(target) == 0;
        const bool add = adds_onto<T>(g, reduced, accumulate);
        auto rows = [=](int64_t begin, int64_t end) {
            RowCursor row_a(plan.a, begin), row_b(plan.b, begin), row_g(target, begin);
            for (int64_t r = begin; r < end; ++r, row_a.next(), row_b.next(), row_g.next()) {
                const T* ra = pa + row_a.offset();
                const T* rb = pb + row_b.offset();
                const T* gy_row = g_out + r * length;
                T* g_row = g_in + row_g.offset();
                if (row_sum) {  // the whole row sums into one element of g
                    T total = 0;
                    for (int64_t j = 0; j < length; ++j)
                        total += gy_row[j] * Rule::derivative(operand, ra[j * sa], rb[j * sb]);
                    g_row[0] += total;
                } else {
                    strided_row(length, sa, sb, [=](int64_t j, int64_t ia, int64_t ib) {
                        g_row[j] = (add ? g_row[j] : T(0)) + gy_row[j] * Rule::derivative(operand, ra[ia], rb[ib]);
                    });
                }
            }
        };
        // Rows that sum into the same elements of g must not run in parallel.
        if (reduced) rows(0, n / std::max<int64_t>(length, 1));
        else parallel_for(n / std::max<int64_t>(length, 1), n, rows);
    }

    // Walks x in memory order and adds each element into y's offset (stride 0 on the dims y is
    // reduced along): one streaming pass, on one thread, so the sums into y do not race. x walks in
    // rows: where y keeps the last dim, each row of x adds onto the row of y a RowCursor finds;
    // trailing dims y reduces are summed into one element per run of them (a row sum). The common
    // bias-gradient case, y = the sum of x's rows (y [1, .., 1, run]), runs on all threads, each
    // over its share of rows into a partial sum of its own, and the partials are added in thread
    // order.
    void sum_to(const Tensor& x, Tensor& y, double scale) override {
        StridedLayout y_over_x = broadcast_layout(y, x);
        int64_t n = x.numel();
        int64_t run = 1, folded = 1;
        for (int k = x.dim() - 1; k >= 0 && y.shape()[k] == x.shape()[k]; --k) run *= x.shape()[k];
        if (run == 1)
            for (int k = x.dim() - 1; k >= 0 && y.shape()[k] == 1; --k) folded *= x.shape()[k];
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = x.data<T>();
            T* out = y.data<T>();
            T s = T(scale);
            if (folded > 1) {
                for (int64_t i = 0; i < n; i += folded) {
                    T total = 0;
                    const T* src = in + i;
#pragma omp simd reduction(+ : total)
                    for (int64_t j = 0; j < folded; ++j) total += src[j];
                    out[strided_offset(y_over_x, i)] += s * total;
                }
                return;
            }
            if (y.numel() == run && n > kParallelWork && run > 0) {  // rows summed into one row
                // Chunks of rows, each into a partial sum of its own, the partials then added in
                // chunk order: the chunks depend on the size alone, so the sum does not depend
                // on the thread count.
                const int64_t rows = n / run, chunks = std::min(rows, chunks_for(n));
                std::vector<T> partial(size_t(chunks) * size_t(run), T(0));
                T* partials = partial.data();
                parallel_chunks(chunks, [=](int64_t c) {
                    T* mine = partials + c * run;
                    for (int64_t r = rows * c / chunks; r < rows * (c + 1) / chunks; ++r) {
                        const T* src = in + r * run;
#pragma omp simd
                        for (int64_t j = 0; j < run; ++j) mine[j] += src[j];
                    }
                });
                for (int64_t c = 0; c < chunks; ++c)
#pragma omp simd
                    for (int64_t j = 0; j < run; ++j) out[j] += s * partials[c * run + j];
                return;
            }
            // Row by row (y keeps x's last dim here, or it has extent 1): each lands on y's row.
            const int64_t length = row_length(y_over_x);
            RowCursor target(y_over_x, 0);
            for (int64_t i = 0; i < n; i += length, target.next()) {
                T* dst = out + target.offset();
                const T* src = in + i;
#pragma omp simd
                for (int64_t j = 0; j < length; ++j) dst[j] += s * src[j];
            }
        });
    }

    void broadcast_add(const Tensor& y, Tensor& x, double scale, bool accumulate) override {
        StridedLayout y_over_x = broadcast_layout(y, x);
        int64_t n = x.numel();
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = y.data<T>();
            T* out = x.data<T>();
            T s = T(scale);
            int64_t length = row_length(y_over_x), stride = last_stride(y_over_x);
            parallel_for(n / std::max<int64_t>(length, 1), n, [=](int64_t begin, int64_t end) {
                RowCursor source(y_over_x, begin);
                for (int64_t r = begin; r < end; ++r, source.next()) {
                    const T* row = in + source.offset();
                    T* dst = out + r * length;
                    strided_row(length, 1, stride, [=](int64_t j, int64_t, int64_t i) {
                        dst[j] = (accumulate ? dst[j] : T(0)) + s * row[i];
                    });
                }
            });
        });
    }

    void max_axis(const Tensor& x, int64_t outer, int64_t n, int64_t inner, Tensor& values, Tensor& argmax) override {
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = x.data<T>();
            T* out = values.data<T>();
            int64_t* arg = argmax.data<int64_t>();
            parallel_for(outer * inner, outer * inner * n, [=](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; ++r) {
                    const T* row = in + (r / inner) * n * inner + r % inner;
                    int64_t best = 0;
                    for (int64_t j = 1; j < n; ++j)
                        if (row[j * inner] > row[best * inner]) best = j;
                    out[r] = row[best * inner];
                    arg[r] = best;
                }
            });
        });
    }

    void gemm(const GemmArgs& g) override {
        dispatch_float(g.dtype, [&](auto t) {
            using T = decltype(t);
            if (g.alpha != 1.0) fail("gemm", "the CPU backend multiplies with alpha = 1 only, got {}", g.alpha);
            std::vector<GemmPart<T>> products(size_t(g.batch));
            for (int64_t i = 0; i < g.batch; ++i) {
                GemmPart<T>& p = products[size_t(i)];
                p.m = g.m, p.n = g.n, p.k = g.k;
                p.a = static_cast<const T*>(g.a) + i * g.stride_a, p.lda = g.lda, p.transpose_a = g.transpose_a;
                p.b = static_cast<const T*>(g.b) + i * g.stride_b, p.ldb = g.ldb, p.transpose_b = g.transpose_b;
                p.c = static_cast<T*>(g.c) + i * g.stride_c, p.ldc = g.ldc;
                p.beta = T(g.beta);
            }
            cpu_gemm(products.data(), g.batch);
        });
    }

    // The CPU form of a prepared matrix is B itself, row-major [K, N] (b^T copied once when
    // `transpose`): libxsmm multiplies by B only untransposed (cpu/cpu_gemm.h).
    PackedMatrix pack_matrix(const Tensor& b, bool transpose, int64_t groups) override {
        const int64_t k = b.shape()[transpose ? 1 : 0], n = b.shape()[transpose ? 0 : 1];
        PackedMatrix packed{Tensor(), k, n, groups, false};
        packed.data = Tensor::empty({k, n}, b.dtype(), b.device());
        if (transpose) strided_copy(b, permuted_layout(b.shape(), {1, 0}), packed.data, contiguous_layout({k, n}), false);
        else copy_within(packed.data.raw_data(), b.raw_data(), size_t(k * n) * dtype_size(b.dtype()));
        return packed;
    }

    // Group g of c (group-major [groups, M, N / groups]) is A times columns g N / groups .. of B.
    void gemm_packed(const Tensor& a, const PackedMatrix& b, const void* addend, const Tensor& bias, double beta,
                     Tensor& c) override {
        dispatch_float(a.dtype(), [&](auto t) {
            using T = decltype(t);
            const int64_t m = leading_rows(a.shape()), width = b.n / b.groups;
            std::vector<GemmPart<T>> groups(size_t(b.groups));
            for (int64_t g = 0; g < b.groups; ++g) {
                GemmPart<T>& p = groups[size_t(g)];
                p.m = m, p.n = width, p.k = b.k;
                p.a = a.data<T>(), p.lda = b.k;
                p.b = b.data.data<T>() + g * width, p.ldb = b.n;
                p.c = c.data<T>() + g * m * width, p.ldc = width;
                p.beta = T(beta);
                if (addend) p.addend = static_cast<const T*>(addend) + g * width, p.ld_addend = b.n;
                if (bias.defined()) p.bias = bias.data<T>() + g * width;
            }
            cpu_gemm(groups.data(), b.groups);
        });
    }

    void strided_copy(const Tensor& src, const StridedLayout& src_layout, Tensor& dst,
                      const StridedLayout& dst_layout, bool accumulate) override {
        int64_t n = 1;
        for (int k = 0; k < src_layout.ndim; ++k) n *= src_layout.shape[k];
        auto run = [&](auto t) {
            using T = decltype(t);
            const T* in = src.data<T>();
            T* out = dst.data<T>();
            int64_t length = row_length(src_layout);
            int64_t src_stride = last_stride(src_layout), dst_stride = last_stride(dst_layout);
            parallel_for(n / std::max<int64_t>(length, 1), n, [=](int64_t begin, int64_t end) {
                RowCursor source(src_layout, begin), destination(dst_layout, begin);
                for (int64_t r = begin; r < end; ++r, source.next(), destination.next()) {
                    const T* from = in + source.offset();
                    T* to = out + destination.offset();
                    if (src_stride == 1 && dst_stride == 1) {  // contiguous rows (slices, concat): vectorised
                        if (accumulate) {
#pragma omp simd
                            for (int64_t j = 0; j < length; ++j) to[j] += from[j];
                        } else {
                            std::memcpy(to, from, size_t(length) * sizeof(T));
                        }
                    } else if (accumulate) {
                        for (int64_t j = 0; j < length; ++j) to[j * dst_stride] += from[j * src_stride];
                    } else {
                        for (int64_t j = 0; j < length; ++j) to[j * dst_stride] = from[j * src_stride];
                    }
                }
            });
        };
        if (src.dtype() == DType::Int64) run(int64_t{});
        else dispatch_float(src.dtype(), run);
    }

    // A row whose index is the same along the inner dim (index_select, an embedding lookup:
    // index_stride_inner == 0) moves as one contiguous run.
    void gather(const Tensor& x, const Tensor& index, const GatherSpec& s, Tensor& y) override {
        const int64_t* idx = index.data<int64_t>();
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = x.data<T>();
            T* out = y.data<T>();
            parallel_for(s.outer * s.m, s.outer * s.m * s.inner, [=](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; ++r) {
                    int64_t o = r / s.m, j = r % s.m;
                    const int64_t* row_index = idx + o * s.index_stride_outer + j * s.index_stride_m;
                    const T* src = in + o * s.n * s.inner;
                    T* dst = out + r * s.inner;
                    if (s.index_stride_inner == 0) {
                        std::memcpy(dst, src + row_index[0] * s.inner, size_t(s.inner) * sizeof(T));
                        continue;
                    }
                    for (int64_t i = 0; i < s.inner; ++i) dst[i] = src[row_index[i * s.index_stride_inner] * s.inner + i];
                }
            });
        });
    }

    // Repeated indices add into the same row of gx, so threads never split the rows: each takes a
    // share of the columns (the inner dim) and walks every row in order. No two threads touch one
    // element, and each element's terms add up in the same order as on one thread.
    void scatter_add(const Tensor& gy, const Tensor& index, const GatherSpec& s, Tensor& gx) override {
        const int64_t* idx = index.data<int64_t>();
        dispatch_float(gy.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = gy.data<T>();
            T* out = gx.data<T>();
            // Threads split the columns (repeated indices then never race), in blocks of 16: a
            // chunk of 2 columns walked all rows for 2 adds each, and read every row's cache line
            // 8 times (docs/BENCHMARKS.md, "scatter_add").
            const int64_t rows = s.outer * s.m, width = 16, blocks = (s.inner + width - 1) / width;
            parallel_for(blocks, rows * s.inner, [=](int64_t first, int64_t last) {
                const int64_t begin = first * width, end = std::min(s.inner, last * width);
                for (int64_t r = 0; r < rows; ++r) {
                    int64_t o = r / s.m, j = r % s.m;
                    const int64_t* row_index = idx + o * s.index_stride_outer + j * s.index_stride_m;
                    const T* src = in + r * s.inner;
                    T* dst = out + o * s.n * s.inner;
                    if (s.index_stride_inner == 0) {
                        T* dst_row = dst + row_index[0] * s.inner;
#pragma omp simd
                        for (int64_t i = begin; i < end; ++i) dst_row[i] += src[i];
                        continue;
                    }
                    for (int64_t i = begin; i < end; ++i) dst[row_index[i * s.index_stride_inner] * s.inner + i] += src[i];
                }
            });
        });
    }

    void softmax(const Tensor& x, int64_t outer, int64_t n, int64_t inner, bool log, Tensor& y) override {
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = x.data<T>();
            T* out = y.data<T>();
            parallel_for(outer * inner, outer * inner * n, [=](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; ++r) {
                    int64_t base = (r / inner) * n * inner + r % inner;
                    softmax_row(in + base, out + base, n, inner, log);
                }
            });
        });
    }

    void softmax_backward(const Tensor& y, const Tensor& gy, int64_t outer, int64_t n, int64_t inner, bool log,
                          Tensor& gx) override {
        dispatch_float(y.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* out = y.data<T>();
            const T* g_out = gy.data<T>();
            T* g_in = gx.data<T>();
            parallel_for(outer * inner, outer * inner * n, [=](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; ++r) {
                    int64_t base = (r / inner) * n * inner + r % inner;
                    softmax_row_backward(out + base, g_out + base, g_in + base, n, inner, log);
                }
            });
        });
    }

    void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamHyper& h) override {
        int64_t n = param.numel();
        dispatch_float(param.dtype(), [&](auto t) {
            using T = decltype(t);
            T* p = param.data<T>();
            const T* g = grad.data<T>();
            T* pm = m.data<T>();
            T* pv = v.data<T>();
            parallel_for(n, n, [=](int64_t begin, int64_t end) {
#pragma omp simd
                for (int64_t i = begin; i < end; ++i) adam_element(p[i], g[i], pm[i], pv[i], h);
            });
        });
    }

    void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdHyper& h) override {
        int64_t n = param.numel();
        dispatch_float(param.dtype(), [&](auto t) {
            using T = decltype(t);
            T* p = param.data<T>();
            const T* g = grad.data<T>();
            T* buf = h.momentum != 0.0 ? momentum_buffer.data<T>() : nullptr;
            parallel_for(n, n, [=](int64_t begin, int64_t end) {
                T unused = 0;
                for (int64_t i = begin; i < end; ++i) sgd_element(p[i], g[i], buf ? buf[i] : unused, h);
            });
        });
    }

    void dropout_mask(Tensor& mask, double p, uint64_t seed, uint64_t offset) override {
        int64_t n = mask.numel();
        dispatch_float(mask.dtype(), [&](auto t) {
            using T = decltype(t);
            T* out = mask.data<T>();
            parallel_for(n, n, [=](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i) out[i] = dropout_value<T>(p, seed, offset + i);
            });
        });
    }
};

}  // namespace

Backend& cpu_backend() {
    // The first use also checks the instruction set: that call is what links the check into every
    // program, statically linked ones included (cpu/cpu_isa_check.cpp).
    [[maybe_unused]] static const bool isa_checked = (check_instruction_set(), true);
    static CpuBackend* instance = new CpuBackend;  // never destroyed: tensors may outlive statics
    return *instance;
}

}  // namespace tapegrad
