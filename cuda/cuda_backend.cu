// The CUDA backend: the kernel interface of core/backend.h on the GPU.
//
// Few kernels, many ops (minitorch's idea): a generic map, zip (with broadcasting through
// strided offsets) and strided copy cover most of them; reductions into a smaller tensor use
// atomicAdd; softmax and gather/scatter have their own kernels. Every per-element formula is a
// TG_HD function from core/elementwise_math.h or core/optimizer_math.h, the same code the CPU
// backend runs, and every index computation comes from core/indexing.h (grid_stride,
// strided_offset), which the CPU tests exercise with emulated block and thread indices.
#include <algorithm>

#include "../core/backend.h"
#include "check.h"
#include "device_memory.h"
#include "gemm.h"
#include "launch.h"
#include "../core/elementwise_math.h"
#include "../core/layout.h"
#include "../core/optimizer_math.h"

namespace tapegrad {
namespace {

using cuda::blocks_for;
using cuda::launch;

#define TG_GRID_LOOP(i, n)                                                                \
    for (int64_t i = grid_stride(blockIdx.x, blockDim.x, threadIdx.x, gridDim.x).first; i < (n); \
         i += grid_stride(blockIdx.x, blockDim.x, threadIdx.x, gridDim.x).step)

// ---- kernels -------------------------------------------------------------------------------

template <typename T>
__global__ void fill_kernel(T* y, T value, int64_t n) {
    TG_GRID_LOOP(i, n) y[i] = value;
}

template <typename X, typename Y>
__global__ void cast_kernel(const X* x, Y* y, int64_t n) {
    TG_GRID_LOOP(i, n) y[i] = Y(x[i]);
}

template <typename Rule, typename T>
__global__ void unary_kernel(const T* x, T* y, T s, int64_t n) {
    TG_GRID_LOOP(i, n) y[i] = Rule::value(x[i], s);
}

template <typename Rule, typename T>
__global__ void unary_backward_kernel(const T* x, const T* y, const T* gy, T* gx, T s, int64_t n, bool accumulate) {
    TG_GRID_LOOP(i, n) gx[i] = (accumulate ? gx[i] : T(0)) + gy[i] * Rule::derivative(x[i], y[i], s);
}

// Without broadcasting, a and b are read at i itself: strided_offset's 64-bit divisions cost more
// than the memory traffic (docs/BENCHMARKS.md, "GPU").
TG_HD int64_t operand_offset(const BroadcastPlan& plan, const StridedLayout& layout, int64_t i) {
    return plan.same_shape ? i : strided_offset(layout, i);
}

template <typename Rule, typename T>
__global__ void binary_kernel(const T* a, const T* b, T* y, BroadcastPlan plan) {
    TG_GRID_LOOP(i, plan.numel)
    y[i] = Rule::value(a[operand_offset(plan, plan.a, i)], b[operand_offset(plan, plan.b, i)]);
}

template <typename Rule, typename T>
__global__ void binary_backward_kernel(const T* a, const T* b, const T* gy, T* g, BroadcastPlan plan, int operand,
                                       bool accumulate, bool reduced) {
    // g has the operand's shape; where the operand was broadcast (`reduced`), many i land on one
    // element of g: atomicAdd, on a g that is zeroed or holds earlier gradients.
    TG_GRID_LOOP(i, plan.numel) {
        const T term = gy[i] * Rule::derivative(operand, a[operand_offset(plan, plan.a, i)],
                                                         b[operand_offset(plan, plan.b, i)]);
        if (!reduced) g[i] = (accumulate ? g[i] : T(0)) + term;
        else atomicAdd(&g[strided_offset(operand == 0 ? plan.a : plan.b, i)], term);
    }
}

// Both gradients of a binary op whose operands were not broadcast, in one pass.
template <typename Rule, typename T>
__global__ void binary_backward_both_kernel(const T* a, const T* b, const T* gy, T* ga, T* gb, bool add_a, bool add_b,
                                            int64_t n) {
    TG_GRID_LOOP(i, n) {
        const T g = gy[i];
        ga[i] = (add_a ? ga[i] : T(0)) + g * Rule::derivative(0, a[i], b[i]);
        gb[i] = (add_b ? gb[i] : T(0)) + g * Rule::derivative(1, a[i], b[i]);
    }
}

// y[offset(i)] += scale * x[i]: many x elements may land on one y element, hence atomicAdd.
template <typename T>
__global__ void sum_to_kernel(const T* x, T* y, StridedLayout y_over_x, T scale, int64_t n) {
    TG_GRID_LOOP(i, n) atomicAdd(&y[strided_offset(y_over_x, i)], scale * x[i]);
}

template <typename T>
__global__ void broadcast_add_kernel(const T* y, T* x, StridedLayout y_over_x, T scale, bool accumulate, int64_t n) {
    TG_GRID_LOOP(i, n) x[i] = (accumulate ? x[i] : T(0)) + scale * y[strided_offset(y_over_x, i)];
}

template <typename T>
__global__ void max_axis_kernel(const T* x, T* values, int64_t* argmax, int64_t outer, int64_t n, int64_t inner) {
    TG_GRID_LOOP(r, outer * inner) {
        const T* row = x + (r / inner) * n * inner + r % inner;
        int64_t best = 0;
        for (int64_t j = 1; j < n; ++j)
            if (row[j * inner] > row[best * inner]) best = j;
        values[r] = row[best * inner];
        argmax[r] = best;
    }
}

template <typename T>
__global__ void strided_copy_kernel(const T* src, StridedLayout src_layout, T* dst, StridedLayout dst_layout,
                                    int64_t n, bool accumulate) {
    TG_GRID_LOOP(i, n) {
        T v = src[strided_offset(src_layout, i)];
        T& d = dst[strided_offset(dst_layout, i)];
        d = accumulate ? d + v : v;
    }
}

// One thread per output element of y [outer, m, inner].
template <typename T>
__global__ void gather_kernel(const T* x, const int64_t* index, Backend::GatherSpec s, T* y) {
    TG_GRID_LOOP(e, s.outer * s.m * s.inner) {
        int64_t i = e % s.inner, j = (e / s.inner) % s.m, o = e / (s.inner * s.m);
        int64_t k = index[o * s.index_stride_outer + j * s.index_stride_m + i * s.index_stride_inner];
        y[e] = x[(o * s.n + k) * s.inner + i];
    }
}

// The adjoint: repeated indices hit the same element of gx, hence atomicAdd.
template <typename T>
__global__ void scatter_add_kernel(const T* gy, const int64_t* index, Backend::GatherSpec s, T* gx) {
    TG_GRID_LOOP(e, s.outer * s.m * s.inner) {
        int64_t i = e % s.inner, j = (e / s.inner) % s.m, o = e / (s.inner * s.m);
        int64_t k = index[o * s.index_stride_outer + j * s.index_stride_m + i * s.index_stride_inner];
        atomicAdd(&gx[(o * s.n + k) * s.inner + i], gy[e]);
    }
}

// One thread per softmax row; the row math is the CPU's (softmax_row in elementwise_math.h).
template <typename T>
__global__ void softmax_kernel(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
    TG_GRID_LOOP(r, outer * inner) {
        int64_t base = (r / inner) * n * inner + r % inner;
        softmax_row(x + base, y + base, n, inner, log);
    }
}

template <typename T>
__global__ void softmax_backward_kernel(const T* y, const T* gy, T* gx, int64_t outer, int64_t n, int64_t inner,
                                        bool log) {
    TG_GRID_LOOP(r, outer * inner) {
        int64_t base = (r / inner) * n * inner + r % inner;
        softmax_row_backward(y + base, gy + base, gx + base, n, inner, log);
    }
}

template <typename T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, AdamHyper h, int64_t n) {
    TG_GRID_LOOP(i, n) adam_element(p[i], g[i], m[i], v[i], h);
}

template <typename T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, SgdHyper h, int64_t n) {
    TG_GRID_LOOP(i, n) {
        T unused = 0;
        sgd_element(p[i], g[i], buf ? buf[i] : unused, h);
    }
}

template <typename T>
__global__ void dropout_kernel(T* mask, double p, uint64_t seed, uint64_t offset, int64_t n) {
    TG_GRID_LOOP(i, n) mask[i] = dropout_value<T>(p, seed, offset + i);
}

// ---- the backend ----------------------------------------------------------------------------

// Makes the tensor's device current and names the op for error messages.
void use_device(const Tensor& t, const char* op) { cuda::set_device(t.device().index, op); }


class CudaBackend final : public Backend {
public:
    std::string name() const override { return "cuda"; }

    void* allocate(Device device, size_t bytes) override { return cuda::device_allocate(device.index, bytes); }
    void deallocate(Device device, void* ptr, size_t bytes) override {
        cuda::device_deallocate(device.index, ptr, bytes);
    }
    void copy_from_host(void* dst, const void* src, size_t bytes) override {
        TG_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to cuda");
    }
    void copy_to_host(void* dst, const void* src, size_t bytes) override {
        TG_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy from cuda");
    }
    void copy_within(void* dst, const void* src, size_t bytes) override {
        TG_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "copy on cuda");
    }

    void fill(Tensor& y, double value) override {
        use_device(y, "fill");
        int64_t n = y.numel();
        if (y.dtype() == DType::Int64) launch("fill", fill_kernel<int64_t>, blocks_for(n), y.data<int64_t>(), int64_t(value), n);
        else
            dispatch_float(y.dtype(), [&](auto t) {
                using T = decltype(t);
                launch("fill", fill_kernel<T>, blocks_for(n), y.data<T>(), T(value), n);
            });
    }

    void cast(const Tensor& x, Tensor& y) override {
        use_device(x, "cast");
        int64_t n = x.numel();
        dispatch_float(x.dtype(), [&](auto tx) {
            dispatch_float(y.dtype(), [&](auto ty) {
                using X = decltype(tx);
                using Y = decltype(ty);
                launch("cast", cast_kernel<X, Y>, blocks_for(n), x.data<X>(), y.data<Y>(), n);
            });
        });
    }

    void unary(UnaryOp op, double scalar, const Tensor& x, Tensor& y) override {
        use_device(x, to_string(op));
        int64_t n = x.numel();
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            dispatch_unary(op, [&](auto rule) {
                using Rule = decltype(rule);
                launch(to_string(op), unary_kernel<Rule, T>, blocks_for(n), x.data<T>(), y.data<T>(), T(scalar), n);
            });
        });
    }

    void unary_backward(UnaryOp op, double scalar, const Tensor& x, const Tensor& y, const Tensor& gy,
                        Tensor& gx, bool accumulate) override {
        use_device(x, to_string(op));
        int64_t n = x.numel();
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            dispatch_unary(op, [&](auto rule) {
                using Rule = decltype(rule);
                launch(to_string(op), unary_backward_kernel<Rule, T>, blocks_for(n), x.data<T>(), y.data<T>(), gy.data<T>(),
                                                                         gx.data<T>(), T(scalar), n, accumulate);
            });
        });
    }

    void binary(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, Tensor& y) override {
        use_device(a, to_string(op));
        dispatch_float(a.dtype(), [&](auto t) {
            using T = decltype(t);
            dispatch_binary(op, [&](auto rule) {
                using Rule = decltype(rule);
                launch(to_string(op), binary_kernel<Rule, T>, blocks_for(plan.numel), a.data<T>(), b.data<T>(), y.data<T>(), plan);
            });
        });
    }

    void binary_backward(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, const Tensor& gy,
                         OperandGrad ga, OperandGrad gb) override {
        use_device(a, to_string(op));
        dispatch_float(a.dtype(), [&](auto t) {
            using T = decltype(t);
            dispatch_binary(op, [&](auto rule) {
                using Rule = decltype(rule);
                if (plan.same_shape && ga.grad && gb.grad) {
                    launch(to_string(op), binary_backward_both_kernel<Rule, T>, blocks_for(plan.numel),
                        a.data<T>(), b.data<T>(), gy.data<T>(), ga.grad->data<T>(), gb.grad->data<T>(), ga.accumulate,
                        gb.accumulate, plan.numel);
                    return;
                }
                for (int operand = 0; operand < 2; ++operand) {
                    OperandGrad target = operand == 0 ? ga : gb;
                    if (!target.grad) continue;
                    // A gradient with more elements than dL/dy is a sum over the broadcast: of many
                    // elements each (a stride 0), or of none (an extent 0 in y: the gradient is zero).
                    const bool reduced = target.grad->numel() != plan.numel;
                    if (reduced && !target.accumulate) fill(*target.grad, 0.0);  // the atomic sums need a zeroed g
                    launch(to_string(op), binary_backward_kernel<Rule, T>, blocks_for(plan.numel),
                        a.data<T>(), b.data<T>(), gy.data<T>(), target.grad->data<T>(), plan, operand,
                        target.accumulate, reduced);
                }
            });
        });
    }

    void sum_to(const Tensor& x, Tensor& y, double scale) override {
        use_device(x, "sum");
        int64_t n = x.numel();
        StridedLayout layout = broadcast_layout(y, x);
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            launch("sum", sum_to_kernel<T>, blocks_for(n), x.data<T>(), y.data<T>(), layout, T(scale), n);
        });
    }

    void broadcast_add(const Tensor& y, Tensor& x, double scale, bool accumulate) override {
        use_device(x, "broadcast_add");
        int64_t n = x.numel();
        StridedLayout layout = broadcast_layout(y, x);
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            launch("broadcast_add", broadcast_add_kernel<T>, blocks_for(n), y.data<T>(), x.data<T>(), layout, T(scale), accumulate, n);
        });
    }

    void max_axis(const Tensor& x, int64_t outer, int64_t n, int64_t inner, Tensor& values, Tensor& argmax) override {
        use_device(x, "max");
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            launch("max", max_axis_kernel<T>, blocks_for(outer * inner), x.data<T>(), values.data<T>(),
                                                                   argmax.data<int64_t>(), outer, n, inner);
        });
    }

    void gemm(const GemmArgs& args) override { cuda::gemm(current_device(), args); }

    // cuBLAS has no use for a packed copy: keep the matrix and remember whether it is B^T.
    PackedMatrix pack_matrix(const Tensor& b, bool transpose, int64_t groups) override {
        return {b, b.shape()[transpose ? 1 : 0], b.shape()[transpose ? 0 : 1], groups, transpose};
    }

    // One GEMM per group g: C_g [M, w] = A B[:, g w : (g + 1) w] (+ the addend's columns of group g,
    // copied into C_g first, or beta C_g), w = N / groups.
    void gemm_packed(const Tensor& a, const PackedMatrix& b, const void* addend, const Tensor& bias, double beta,
                     Tensor& c) override {
        const int64_t m = leading_rows(a.shape()), width = b.n / b.groups;
        const size_t elem = dtype_size(c.dtype());
        for (int64_t group = 0; group < b.groups; ++group) {
            char* c_group = static_cast<char*>(c.raw_data()) + group * m * width * elem;
            if (addend)
                TG_CUDA_CHECK(cudaMemcpy2D(c_group, width * elem, static_cast<const char*>(addend) + group * width * elem,
                                           b.n * elem, width * elem, m, cudaMemcpyDeviceToDevice),
                              "gemm_packed addend");
            GemmArgs g;
            g.transpose_b = b.transposed;
            g.m = m;
            g.n = width;
            g.k = b.k;
            g.beta = addend ? 1.0 : beta;
            g.a = a.raw_data();
            // B's columns of this group: rows of B^T [N, K], or a column offset into B [K, N].
            g.b = static_cast<const char*>(b.data.raw_data()) + group * width * (b.transposed ? b.k : 1) * elem;
            g.c = c_group;
            g.lda = b.k;
            g.ldb = b.transposed ? b.k : b.n;
            g.ldc = width;
            g.dtype = a.dtype();
            if (g.m > 0 && g.n > 0 && g.k > 0) {
                gemm(g);
            } else if (g.beta == 0.0 && m * width > 0) {
                TG_CUDA_CHECK(cudaMemset(c_group, 0, m * width * elem), "gemm_packed zeros");
            }
        }
        if (bias.defined()) {  // c [groups, M, width] += bias viewed [groups, 1, width]
            Tensor rows = alias_with_shape(c, {b.groups, m, width});
            broadcast_add(alias_with_shape(bias, {b.groups, 1, width}), rows, 1.0, true);
        }
    }

    void strided_copy(const Tensor& src, const StridedLayout& src_layout, Tensor& dst,
                      const StridedLayout& dst_layout, bool accumulate) override {
        use_device(src, "strided_copy");
        int64_t n = 1;
        for (int k = 0; k < src_layout.ndim; ++k) n *= src_layout.shape[k];
        auto run = [&](auto t) {
            using T = decltype(t);
            launch("strided_copy", strided_copy_kernel<T>, blocks_for(n), src.data<T>(), src_layout, dst.data<T>(), dst_layout, n,
                                                           accumulate);
        };
        if (src.dtype() == DType::Int64) run(int64_t{});
        else dispatch_float(src.dtype(), run);
    }

    void gather(const Tensor& x, const Tensor& index, const GatherSpec& s, Tensor& y) override {
        use_device(x, "gather");
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            launch("gather", gather_kernel<T>, blocks_for(s.outer * s.m * s.inner), x.data<T>(), index.data<int64_t>(), s,
                                                                          y.data<T>());
        });
    }

    void scatter_add(const Tensor& gy, const Tensor& index, const GatherSpec& s, Tensor& gx) override {
        use_device(gy, "scatter_add");
        dispatch_float(gy.dtype(), [&](auto t) {
            using T = decltype(t);
            launch("scatter_add", scatter_add_kernel<T>, blocks_for(s.outer * s.m * s.inner), gy.data<T>(), index.data<int64_t>(),
                                                                               s, gx.data<T>());
        });
    }

    void softmax(const Tensor& x, int64_t outer, int64_t n, int64_t inner, bool log, Tensor& y) override {
        use_device(x, "softmax");
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            launch("softmax", softmax_kernel<T>, blocks_for(outer * inner), x.data<T>(), y.data<T>(), outer, n, inner, log);
        });
    }

    void softmax_backward(const Tensor& y, const Tensor& gy, int64_t outer, int64_t n, int64_t inner, bool log,
                          Tensor& gx) override {
        use_device(y, "softmax");
        dispatch_float(y.dtype(), [&](auto t) {
            using T = decltype(t);
            launch("softmax", softmax_backward_kernel<T>, blocks_for(outer * inner), y.data<T>(), gy.data<T>(), gx.data<T>(),
                                                                           outer, n, inner, log);
        });
    }

    void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamHyper& h) override {
        use_device(param, "adam");
        int64_t n = param.numel();
        dispatch_float(param.dtype(), [&](auto t) {
            using T = decltype(t);
            launch("adam", adam_kernel<T>, blocks_for(n), param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(), h, n);
        });
    }

    void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdHyper& h) override {
        use_device(param, "sgd");
        int64_t n = param.numel();
        dispatch_float(param.dtype(), [&](auto t) {
            using T = decltype(t);
            T* buf = h.momentum != 0.0 ? momentum_buffer.data<T>() : nullptr;
            launch("sgd", sgd_kernel<T>, blocks_for(n), param.data<T>(), grad.data<T>(), buf, h, n);
        });
    }

    void dropout_mask(Tensor& mask, double p, uint64_t seed, uint64_t offset) override {
        use_device(mask, "dropout");
        int64_t n = mask.numel();
        dispatch_float(mask.dtype(), [&](auto t) {
            using T = decltype(t);
            launch("dropout", dropout_kernel<T>, blocks_for(n), mask.data<T>(), p, seed, offset, n);
        });
    }

private:
    static int current_device() {
        int device = 0;
        TG_CUDA_CHECK(cudaGetDevice(&device), "matmul");
        return device;
    }
};

}  // namespace

Backend& cuda::cuda_backend() {
    static CudaBackend* instance = new CudaBackend;  // never destroyed: tensors may outlive statics
    return *instance;
}

}  // namespace tapegrad
