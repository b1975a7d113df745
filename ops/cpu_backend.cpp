// The CPU backend: plain loops over contiguous arrays, OpenMP across cores where the work is
// large enough to pay for waking threads, OpenBLAS for every matrix product. The per-element
// math comes from ops/elementwise_math.h, shared with the CUDA kernels.
#include <cblas.h>
#include <omp.h>

#include <cstdlib>
#include <cstring>

#include "core/backend.h"
#include "ops/elementwise_math.h"
#include "ops/optimizer_math.h"

namespace tapegrad {
namespace {

// Below this many elements a loop runs on one thread: waking the pool costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 15;
// Buffers of at least this many bytes are cache-line aligned (see CpuBackend::allocate).
constexpr size_t kAlignedBytes = 1024;

// body(i) for i in [0, count), spread over the OpenMP threads when the loop touches more than
// kParallelThreshold elements (`work`). Small loops never enter OpenMP: a parallel region with a
// false if-clause still allocates a team and makes a futex call, which would dominate the cost
// of an op on a few elements (the tape-overhead benchmark in bench/).
template <typename Body>
void parallel_for(int64_t count, int64_t work, Body&& body) {
    if (work > kParallelThreshold) {
#pragma omp parallel for
        for (int64_t i = 0; i < count; ++i) body(i);
    } else {
        for (int64_t i = 0; i < count; ++i) body(i);
    }
}

// The same for independent elementwise iterations the compiler may vectorize.
template <typename Body>
void parallel_for_simd(int64_t count, int64_t work, Body&& body) {
    if (work > kParallelThreshold) {
#pragma omp parallel for simd
        for (int64_t i = 0; i < count; ++i) body(i);
    } else {
#pragma omp simd
        for (int64_t i = 0; i < count; ++i) body(i);
    }
}

class CpuBackend final : public Backend {
public:
    std::string name() const override { return "cpu"; }

    void* allocate(size_t bytes) override {
        // 64-byte alignment (a cache line, one AVX-512 load) for arrays long enough to stream;
        // aligned_alloc needs a multiple of the alignment. Small buffers take malloc's 16 bytes:
        // aligned_alloc carves each block out of a larger one and frees the remainders, a heap
        // churn that costs more than a one-element op itself.
        void* p = bytes < kAlignedBytes ? std::malloc(bytes) : std::aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!p) fail("cpu allocate", "out of memory allocating {} bytes", bytes);
        return p;
    }
    void deallocate(void* ptr, size_t) override { std::free(ptr); }
    void copy_from_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
    void copy_to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
    void copy_within(void* dst, const void* src, size_t bytes) override { std::memmove(dst, src, bytes); }

    void fill(Tensor& y, double value) override {
        int64_t n = y.numel();
        if (y.dtype() == DType::Int64) {
            int64_t* p = y.data<int64_t>();
            for (int64_t i = 0; i < n; ++i) p[i] = int64_t(value);
            return;
        }
        dispatch_float(y.dtype(), [&](auto t) {
            using T = decltype(t);
            T* p = y.data<T>();
            if (value == 0.0) std::memset(p, 0, n * sizeof(T));
            else
                for (int64_t i = 0; i < n; ++i) p[i] = T(value);
        });
    }

    void cast(const Tensor& x, Tensor& y, bool accumulate) override {
        int64_t n = x.numel();
        dispatch_float(x.dtype(), [&](auto tx) {
            dispatch_float(y.dtype(), [&](auto ty) {
                using X = decltype(tx);
                using Y = decltype(ty);
                const X* src = x.data<X>();
                Y* dst = y.data<Y>();
                parallel_for(n, n, [&](int64_t i) { dst[i] = accumulate ? dst[i] + Y(src[i]) : Y(src[i]); });
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
            dispatch_unary(op, [&](auto op_constant) {
                constexpr UnaryOp OP = decltype(op_constant)::value;
                parallel_for_simd(n, n, [&](int64_t i) { out[i] = unary_value<OP, T>(in[i], s); });
            });
        });
    }

    void unary_backward(UnaryOp op, double scalar, const Tensor& x, const Tensor& y, const Tensor& gy,
                        Tensor& gx) override {
        int64_t n = x.numel();
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = x.data<T>();
            const T* out = y.data<T>();
            const T* g_out = gy.data<T>();
            T* g_in = gx.data<T>();
            T s = T(scalar);
            dispatch_unary(op, [&](auto op_constant) {
                constexpr UnaryOp OP = decltype(op_constant)::value;
                parallel_for_simd(n, n, [&](int64_t i) {
                    g_in[i] += g_out[i] * unary_derivative<OP, T>(in[i], out[i], s);
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
            dispatch_binary(op, [&](auto op_constant) {
                constexpr BinaryOp OP = decltype(op_constant)::value;
                if (plan.same_shape) {
                    parallel_for_simd(n, n, [&](int64_t i) { out[i] = binary_value<OP, T>(pa[i], pb[i]); });
                } else {
                    parallel_for(n, n, [&](int64_t i) {
                        out[i] = binary_value<OP, T>(pa[strided_offset(plan.a, i)], pb[strided_offset(plan.b, i)]);
                    });
                }
            });
        });
    }

    void binary_backward(BinaryOp op, int operand, const BroadcastPlan& plan, const Tensor& a, const Tensor& b,
                         const Tensor& gy, Tensor& g) override {
        dispatch_float(a.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* pa = a.data<T>();
            const T* pb = b.data<T>();
            const T* g_out = gy.data<T>();
            T* g_in = g.data<T>();
            int64_t n = plan.numel;
            dispatch_binary(op, [&](auto op_constant) {
                constexpr BinaryOp OP = decltype(op_constant)::value;
                if (plan.same_shape) {
                    parallel_for_simd(n, n, [&](int64_t i) {
                        g_in[i] += g_out[i] * binary_derivative<OP, T>(operand, pa[i], pb[i]);
                    });
                } else {
                    parallel_for(n, n, [&](int64_t i) {
                        g_in[i] += g_out[i] * binary_derivative<OP, T>(operand, pa[strided_offset(plan.a, i)],
                                                                      pb[strided_offset(plan.b, i)]);
                    });
                }
            });
        });
    }

    // Both directions walk x in memory order and map each element to y's offset (stride 0 on the
    // dims y is broadcast along): one streaming pass, serial so that sums into y do not race.
    void sum_to(const Tensor& x, Tensor& y, double scale) override {
        StridedLayout y_over_x = broadcast_layout(y, x);
        int64_t n = x.numel();
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = x.data<T>();
            T* out = y.data<T>();
            T s = T(scale);
            int64_t inner = trailing_contiguous_run(y, x);
            for (int64_t i = 0; i < n; i += inner) {
                T* dst = out + strided_offset(y_over_x, i);
                if (inner == 1) *dst += s * in[i];
                else
                    for (int64_t j = 0; j < inner; ++j) dst[j] += s * in[i + j];
            }
        });
    }

    void broadcast_add(const Tensor& y, Tensor& x, double scale) override {
        StridedLayout y_over_x = broadcast_layout(y, x);
        int64_t n = x.numel();
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = y.data<T>();
            T* out = x.data<T>();
            T s = T(scale);
            parallel_for(n, n, [&](int64_t i) { out[i] += s * in[strided_offset(y_over_x, i)]; });
        });
    }

    void max_axis(const Tensor& x, int64_t outer, int64_t n, int64_t inner, Tensor& values, Tensor& argmax) override {
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = x.data<T>();
            T* out = values.data<T>();
            int64_t* arg = argmax.data<int64_t>();
            parallel_for(outer, outer * inner * n, [&](int64_t o) {
                for (int64_t i = 0; i < inner; ++i) {
                    const T* row = in + o * n * inner + i;
                    int64_t best = 0;
                    for (int64_t j = 1; j < n; ++j)
                        if (row[j * inner] > row[best * inner]) best = j;
                    out[o * inner + i] = row[best * inner];
                    arg[o * inner + i] = best;
                }
            });
        });
    }

    void gemm(const GemmArgs& g) override {
        CBLAS_TRANSPOSE ta = g.transpose_a ? CblasTrans : CblasNoTrans;
        CBLAS_TRANSPOSE tb = g.transpose_b ? CblasTrans : CblasNoTrans;
        for (int64_t i = 0; i < g.batch; ++i) {
            if (g.dtype == DType::Float32) {
                cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, float(g.alpha),
                            static_cast<const float*>(g.a) + i * g.stride_a, g.lda,
                            static_cast<const float*>(g.b) + i * g.stride_b, g.ldb, float(g.beta),
                            static_cast<float*>(g.c) + i * g.stride_c, g.ldc);
            } else {
                cblas_dgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, g.alpha,
                            static_cast<const double*>(g.a) + i * g.stride_a, g.lda,
                            static_cast<const double*>(g.b) + i * g.stride_b, g.ldb, g.beta,
                            static_cast<double*>(g.c) + i * g.stride_c, g.ldc);
            }
        }
    }

    void strided_copy(const Tensor& src, const StridedLayout& src_layout, Tensor& dst,
                      const StridedLayout& dst_layout, bool accumulate) override {
        int64_t n = 1;
        for (int k = 0; k < src_layout.ndim; ++k) n *= src_layout.shape[k];
        auto run = [&](auto t) {
            using T = decltype(t);
            const T* in = src.data<T>();
            T* out = dst.data<T>();
            parallel_for(n, n, [&](int64_t i) {
                T v = in[strided_offset(src_layout, i)];
                T& d = out[strided_offset(dst_layout, i)];
                d = accumulate ? d + v : v;
            });
        };
        if (src.dtype() == DType::Int64) run(int64_t{});
        else dispatch_float(src.dtype(), run);
    }

    void gather(const Tensor& x, const Tensor& index, const GatherSpec& s, Tensor& y) override {
        const int64_t* idx = index.data<int64_t>();
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = x.data<T>();
            T* out = y.data<T>();
            parallel_for(s.outer, s.outer * s.m * s.inner, [&](int64_t o) {
                for (int64_t j = 0; j < s.m; ++j) {
                    T* dst = out + (o * s.m + j) * s.inner;
                    for (int64_t i = 0; i < s.inner; ++i) {
                        int64_t k = idx[o * s.index_stride_outer + j * s.index_stride_m + i * s.index_stride_inner];
                        dst[i] = in[(o * s.n + k) * s.inner + i];
                    }
                }
            });
        });
    }

    void scatter_add(const Tensor& gy, const Tensor& index, const GatherSpec& s, Tensor& gx) override {
        const int64_t* idx = index.data<int64_t>();
        dispatch_float(gy.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = gy.data<T>();
            T* out = gx.data<T>();
            // Serial over (o, j): repeated indices add into the same row, which threads would race on.
            for (int64_t o = 0; o < s.outer; ++o)
                for (int64_t j = 0; j < s.m; ++j) {
                    const T* src = in + (o * s.m + j) * s.inner;
                    for (int64_t i = 0; i < s.inner; ++i) {
                        int64_t k = idx[o * s.index_stride_outer + j * s.index_stride_m + i * s.index_stride_inner];
                        out[(o * s.n + k) * s.inner + i] += src[i];
                    }
                }
        });
    }

    void softmax(const Tensor& x, int64_t outer, int64_t n, int64_t inner, bool log, Tensor& y) override {
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            const T* in = x.data<T>();
            T* out = y.data<T>();
            parallel_for(outer * inner, outer * inner * n, [&](int64_t r) {
                int64_t base = (r / inner) * n * inner + r % inner;
                softmax_row(in + base, out + base, n, inner, log);
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
            parallel_for(outer * inner, outer * inner * n, [&](int64_t r) {
                int64_t base = (r / inner) * n * inner + r % inner;
                softmax_row_backward(out + base, g_out + base, g_in + base, n, inner, log);
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
            parallel_for(n, n, [&](int64_t i) { adam_element(p[i], g[i], pm[i], pv[i], h); });
        });
    }

    void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdHyper& h) override {
        int64_t n = param.numel();
        dispatch_float(param.dtype(), [&](auto t) {
            using T = decltype(t);
            T* p = param.data<T>();
            const T* g = grad.data<T>();
            T unused = 0;
            T* buf = h.momentum != 0.0 ? momentum_buffer.data<T>() : nullptr;
            parallel_for(n, n, [&](int64_t i) { sgd_element(p[i], g[i], buf ? buf[i] : unused, h); });
        });
    }

    void dropout_mask(Tensor& mask, double p, uint64_t seed, uint64_t offset) override {
        int64_t n = mask.numel();
        dispatch_float(mask.dtype(), [&](auto t) {
            using T = decltype(t);
            T* out = mask.data<T>();
            parallel_for(n, n, [&](int64_t i) { out[i] = dropout_value<T>(p, seed, offset + i); });
        });
    }

private:
    // y (same ndim as x, extents equal or 1) seen over x's shape: stride 0 along broadcast dims.
    static StridedLayout broadcast_layout(const Tensor& y, const Tensor& x) {
        StridedLayout l;
        l.ndim = x.dim();
        Shape y_strides = contiguous_strides(y.shape());
        for (int k = 0; k < l.ndim; ++k) {
            l.shape[k] = x.shape()[k];
            l.stride[k] = y.shape()[k] == 1 && x.shape()[k] != 1 ? 0 : y_strides[k];
        }
        return l;
    }
    // The number of trailing elements of x that map to consecutive elements of y (1 if the last
    // dim is reduced): lets sum_to add whole rows at a time.
    static int64_t trailing_contiguous_run(const Tensor& y, const Tensor& x) {
        int64_t run = 1;
        for (int k = x.dim() - 1; k >= 0; --k) {
            if (y.shape()[k] != x.shape()[k]) break;
            run *= x.shape()[k];
        }
        return run;
    }
};

CpuBackend cpu_backend_instance;
const bool cpu_registered = (register_backend(DeviceType::CPU, &cpu_backend_instance), true);

}  // namespace
}  // namespace tapegrad
