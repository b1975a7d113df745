// The CUDA backend: the kernel interface of core/backend.h on the GPU.
//
// Few kernels, many ops (minitorch's idea): a generic map, zip (with broadcasting through
// strided offsets) and strided copy cover most of them; reductions into a smaller tensor (sum,
// max, softmax's sums) are deterministic trees (team_reduce.h), planned on the host from the
// sizes; gather/scatter have their own kernels. Every per-element formula is a
// TG_HD function from core/elementwise_math.h or core/optimizer_math.h, the same code the CPU
// backend runs, and every index computation comes from core/indexing.h (grid_stride,
// strided_offset), which the CPU tests exercise with emulated block and thread indices.
#include <algorithm>
#include <limits>
#include <type_traits>

#include "../core/backend.h"
#include "check.h"
#include "device_memory.h"
#include "gemm.h"
#include "index_errors.h"
#include "launch.h"
#include "team_reduce.h"
#include "../core/elementwise_math.h"
#include "../core/layout.h"
#include "../core/optimizer_math.h"

namespace tapegrad {
namespace {

using cuda::blocks_for;
using cuda::kBlock;
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

// g has the operand's shape, or (for a broadcast operand) the output's: the host sums that into
// the operand's shape (sum_into).
template <typename Rule, typename T>
__global__ void binary_backward_kernel(const T* a, const T* b, const T* gy, T* g, BroadcastPlan plan, int operand,
                                       bool accumulate) {
    TG_GRID_LOOP(i, plan.numel) {
        const T term = gy[i] * Rule::derivative(operand, a[operand_offset(plan, plan.a, i)],
                                                         b[operand_offset(plan, plan.b, i)]);
        g[i] = (accumulate ? g[i] : T(0)) + term;
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

// A sum of x over some of its dims, as the kernels walk it: output r sums
//   x[kept(r) + reduced(j)]  for j < count,
// with kept and reduced the layouts of x's kept and summed dims (adjacent dims of one kind merged
// into one). Planned on the host (plan_reduction).
struct ReducePlan {
    StridedLayout kept, reduced;
    int64_t outputs = 1, count = 1;
};

// strided_offset without its division where the summed dims merged into one (a sum over the last
// dims, or of everything).
TG_HD int64_t reduced_offset(const StridedLayout& layout, int64_t j) {
    return layout.ndim == 1 ? j * layout.stride[0] : strided_offset(layout, j);
}

// The share [begin, end) of a row of n elements that part `part` of `parts` reduces.
struct Share {
    int64_t begin, end;
};
TG_HD Share share_of(int64_t n, int64_t part, int64_t parts) {
    const int64_t chunk = (n + parts - 1) / parts, begin = part * chunk;
    return {begin, begin + chunk < n ? begin + chunk : n};
}

// out[r] (+)= scale * sum_{j in share} x[kept(row) + reduced(j)],  r = row * parts + part, in the
// fixed order of team_reduce. parts > 1 splits long rows over several teams (out holds partial
// sums, summed again by the host's second launch).
template <typename T, int Width>
__global__ void sum_kernel(const T* x, ReducePlan plan, int64_t parts, T* out, T scale, bool accumulate) {
    __shared__ T scratch[kBlock / 32];
    TG_TEAM_LOOP(r, plan.outputs * parts, Width) {
        const Share share = share_of(plan.count, r % parts, parts);
        const T* row = x + strided_offset(plan.kept, r / parts);
        T total = 0;
        for (int64_t j = share.begin + cuda::team_lane<Width>(); j < share.end; j += Width)
            total += row[reduced_offset(plan.reduced, j)];
        total = cuda::team_reduce<Width>(total, cuda::Plus{}, scratch);
        if (cuda::team_lane<Width>() == 0) out[r] = (accumulate ? out[r] : T(0)) + scale * total;
    }
}

template <typename T>
__global__ void broadcast_add_kernel(const T* y, T* x, StridedLayout y_over_x, T scale, bool accumulate, int64_t n) {
    TG_GRID_LOOP(i, n) x[i] = (accumulate ? x[i] : T(0)) + scale * y[strided_offset(y_over_x, i)];
}

// x viewed as [outer, n, inner]: row (o, i) is x[o, :, i], at x + o n inner + i with stride inner.
TG_HD int64_t row_start(int64_t row, int64_t n, int64_t inner) { return (row / inner) * n * inner + row % inner; }

// values[r], argmax[r] = the max of row r's share and its first index (FirstLargest), r = row *
// parts + part. x_index (when not null) holds the indices of x's elements: the partial argmaxes
// of a first launch with parts > 1, which a second launch reduces as rows of n = parts.
template <typename T, int Width>
__global__ void max_kernel(const T* x, const int64_t* x_index, int64_t rows, int64_t n, int64_t inner, int64_t parts,
                           T* values, int64_t* argmax) {
    __shared__ cuda::Best<T> scratch[kBlock / 32];
    TG_TEAM_LOOP(r, rows * parts, Width) {
        const Share share = share_of(n, r % parts, parts);
        const int64_t start = row_start(r / parts, n, inner);
        cuda::Best<T> best{T(0), -1};
        for (int64_t j = share.begin + cuda::team_lane<Width>(); j < share.end; j += Width) {
            const int64_t at = start + j * inner;
            best = cuda::FirstLargest{}(best, cuda::candidate(x[at], x_index ? x_index[at] : j));
        }
        best = cuda::team_reduce<Width>(best, cuda::FirstLargest{}, scratch);
        if (cuda::team_lane<Width>() == 0) {
            values[r] = best.value;
            argmax[r] = best.index;
        }
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

// Records an index outside [0, range) at `position` of the index tensor (cuda/index_errors.h):
// the first thread to claim the record writes it.
__device__ void record_bad_index(cuda::IndexCheck check, int64_t value, int64_t position, int64_t range) {
    if (atomicCAS(&check.record->claimed, 0ull, 1ull) != 0ull) return;
    check.record->value = value;
    check.record->position = position;
    check.record->range = range;
    check.record->op = check.op;
}

// One thread per output element of y [outer, m, inner]; an out-of-range index reads nothing (y = 0)
// and is recorded.
template <typename T>
__global__ void gather_kernel(const T* x, const int64_t* index, Backend::GatherSpec s, T* y, cuda::IndexCheck check) {
    TG_GRID_LOOP(e, s.outer * s.m * s.inner) {
        int64_t i = e % s.inner, j = (e / s.inner) % s.m, o = e / (s.inner * s.m);
        int64_t at = o * s.index_stride_outer + j * s.index_stride_m + i * s.index_stride_inner, k = index[at];
        if (k < 0 || k >= s.n) {
            record_bad_index(check, k, at, s.n);
            y[e] = T(0);
            continue;
        }
        y[e] = x[(o * s.n + k) * s.inner + i];
    }
}

// The adjoint: repeated indices hit the same element of gx, hence atomicAdd (so index_select's
// gradient, where indices repeat, is summed in whatever order the threads run; gather's and max's
// indices hit each element of gx at most once).
template <typename T>
__global__ void scatter_add_kernel(const T* gy, const int64_t* index, Backend::GatherSpec s, T* gx,
                                   cuda::IndexCheck check) {
    TG_GRID_LOOP(e, s.outer * s.m * s.inner) {
        int64_t i = e % s.inner, j = (e / s.inner) % s.m, o = e / (s.inner * s.m);
        int64_t at = o * s.index_stride_outer + j * s.index_stride_m + i * s.index_stride_inner, k = index[at];
        if (k < 0 || k >= s.n) record_bad_index(check, k, at, s.n);
        else atomicAdd(&gx[(o * s.n + k) * s.inner + i], gy[e]);
    }
}

// softmax over each row of [outer, n, inner], a team per row (team_reduce):
//   m = max_j x_j,  s = sum_j e^(x_j - m),  y_j = e^(x_j - m) / s   (log: y_j = x_j - m - log s)
template <typename T, int Width>
__global__ void softmax_kernel(const T* x, T* y, int64_t rows, int64_t n, int64_t inner, bool log_output) {
    TG_USING_STD_MATH;
    __shared__ T scratch[kBlock / 32];
    const int lane = cuda::team_lane<Width>();
    TG_TEAM_LOOP(r, rows, Width) {
        const T* in = x + row_start(r, n, inner);
        T* out = y + row_start(r, n, inner);
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t j = lane; j < n; j += Width) m = cuda::Larger{}(m, in[j * inner]);
        m = cuda::team_reduce<Width>(m, cuda::Larger{}, scratch);
        T total = 0;
        for (int64_t j = lane; j < n; j += Width) total += exp(in[j * inner] - m);
        total = cuda::team_reduce<Width>(total, cuda::Plus{}, scratch);
        const T log_total = log(total);
        for (int64_t j = lane; j < n; j += Width)
            out[j * inner] = log_output ? in[j * inner] - m - log_total : exp(in[j * inner] - m) / total;
    }
}

// The adjoint, a team per row:
//   softmax:     gx_j += y_j (gy_j - sum_k gy_k y_k)
//   log_softmax: gx_j += gy_j - e^(y_j) sum_k gy_k
template <typename T, int Width>
__global__ void softmax_backward_kernel(const T* y, const T* gy, T* gx, int64_t rows, int64_t n, int64_t inner,
                                        bool log_output) {
    TG_USING_STD_MATH;
    __shared__ T scratch[kBlock / 32];
    const int lane = cuda::team_lane<Width>();
    TG_TEAM_LOOP(r, rows, Width) {
        const int64_t start = row_start(r, n, inner);
        T dot = 0;
        for (int64_t j = lane; j < n; j += Width) {
            const int64_t k = start + j * inner;
            dot += log_output ? gy[k] : gy[k] * y[k];
        }
        dot = cuda::team_reduce<Width>(dot, cuda::Plus{}, scratch);
        for (int64_t j = lane; j < n; j += Width) {
            const int64_t k = start + j * inner;
            gx[k] += log_output ? gy[k] - exp(y[k]) * dot : y[k] * (gy[k] - dot);
        }
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

// ---- how a row is reduced: chosen from the sizes alone, so the same sizes sum in the same order --

// Threads per row (team_reduce.h): one where rows are short, or strided and many (a thread per row
// then reads memory in step with its neighbours); else a warp for rows up to 2048 elements, a
// whole block beyond.
int team_width(int64_t rows, int64_t n, int64_t stride) {
    if (n < 32 || (stride != 1 && rows >= 4096)) return 1;
    return n <= 2048 ? 32 : kBlock;
}

// Teams per row: fewer rows than blocks to fill the GPU, when long, are each split over up to 1024
// blocks (about 2048 blocks in all, at least 32 elements a thread); a second launch reduces the
// parts' results, as rows of `parts` elements.
int64_t parts_for(int width, int64_t rows, int64_t n) {
    if (width != kBlock) return 1;
    return std::clamp<int64_t>(std::min<int64_t>(n / (kBlock * 32), 2048 / std::max<int64_t>(rows, 1)), 1, 1024);
}

// Calls f(std::integral_constant<int, width>) for a width of team_width.
template <typename F>
void with_width(int width, F&& f) {
    if (width == 1) f(std::integral_constant<int, 1>{});
    else if (width == 32) f(std::integral_constant<int, 32>{});
    else f(std::integral_constant<int, kBlock>{});
}

// The sum of a contiguous x over the dims where y_over_x has stride 0 (broadcast_layout, or a
// broadcast operand's layout in a BroadcastPlan), into y whose elements are x's kept dims in order.
// Extent-1 dims are dropped; adjacent dims of one kind merge into one dim of x's strides.
ReducePlan plan_reduction(const StridedLayout& y_over_x) {
    int64_t x_stride[kMaxDims], stride = 1;
    for (int k = y_over_x.ndim - 1; k >= 0; --k) {
        x_stride[k] = stride;
        stride *= y_over_x.shape[k];
    }
    ReducePlan plan;
    int last_kind = -1;  // 1 summed, 0 kept: the kind of the last dim appended
    for (int k = 0; k < y_over_x.ndim; ++k) {
        const int64_t extent = y_over_x.shape[k];
        if (extent == 1) continue;
        const int summed = y_over_x.stride[k] == 0 ? 1 : 0;
        StridedLayout& layout = summed ? plan.reduced : plan.kept;
        if (last_kind == summed) layout.shape[layout.ndim - 1] *= extent;
        else layout.shape[layout.ndim++] = extent;
        layout.stride[layout.ndim - 1] = x_stride[k];
        (summed ? plan.count : plan.outputs) *= extent;
        last_kind = summed;
    }
    return plan;
}

// Rows [rows, n] of a contiguous buffer, each summed whole.
ReducePlan rows_plan(int64_t rows, int64_t n) {
    ReducePlan plan;
    plan.kept.ndim = plan.reduced.ndim = 1;
    plan.kept.shape[0] = plan.outputs = rows;
    plan.kept.stride[0] = n;
    plan.reduced.shape[0] = plan.count = n;
    plan.reduced.stride[0] = 1;
    return plan;
}

// y (+)= scale * x summed as `plan` says, deterministically (sum_kernel).
template <typename T>
void sum_into(const T* x, const ReducePlan& plan, T* y, T scale, bool accumulate, Device device) {
    if (plan.outputs == 0) return;
    const StridedLayout& summed = plan.reduced;
    const int width = team_width(plan.outputs, plan.count, summed.ndim ? summed.stride[summed.ndim - 1] : 1);
    const int64_t parts = parts_for(width, plan.outputs, plan.count);
    Tensor partial = parts > 1 ? Tensor::empty({plan.outputs * parts}, dtype_of<T>(), device) : Tensor();
    T* out = parts > 1 ? partial.data<T>() : y;
    with_width(width, [&](auto w) {
        constexpr int W = decltype(w)::value;
        launch("sum", sum_kernel<T, W>, blocks_for(plan.outputs * parts * W), x, plan, parts, out,
               parts > 1 ? T(1) : scale, parts > 1 ? false : accumulate);
    });
    if (parts > 1) sum_into(out, rows_plan(plan.outputs, parts), y, scale, accumulate, device);
}

// values, argmax = the max of each row of x [outer, n, inner] (rows = outer inner) and its first
// index (max_kernel); x_index: see max_kernel.
template <typename T>
void max_rows(const T* x, const int64_t* x_index, int64_t rows, int64_t n, int64_t inner, T* values,
              int64_t* argmax, Device device) {
    if (rows == 0) return;
    const int width = team_width(rows, n, inner);
    const int64_t parts = parts_for(width, rows, n);
    Tensor partial_values, partial_index;
    if (parts > 1) {
        partial_values = Tensor::empty({rows * parts}, dtype_of<T>(), device);
        partial_index = Tensor::empty({rows * parts}, DType::Int64, device);
    }
    T* out_values = parts > 1 ? partial_values.data<T>() : values;
    int64_t* out_index = parts > 1 ? partial_index.data<int64_t>() : argmax;
    with_width(width, [&](auto w) {
        constexpr int W = decltype(w)::value;
        launch("max", max_kernel<T, W>, blocks_for(rows * parts * W), x, x_index, rows, n, inner, parts, out_values,
               out_index);
    });
    if (parts > 1) max_rows(out_values, out_index, rows, parts, int64_t(1), values, argmax, device);
}

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
        cuda::report_index_errors("copy_to_host");
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
                    const StridedLayout& layout = operand == 0 ? plan.a : plan.b;
                    if (target.grad->numel() == plan.numel) {
                        launch(to_string(op), binary_backward_kernel<Rule, T>, blocks_for(plan.numel), a.data<T>(),
                               b.data<T>(), gy.data<T>(), target.grad->data<T>(), plan, operand, target.accumulate);
                        continue;
                    }
                    // A gradient with more elements than dL/dy is a sum over the broadcast: of many
                    // elements each (a stride 0), or of none (an extent 0 in y: the gradient is
                    // zero). The terms over the output's shape, then summed into the operand's shape
                    // in a fixed order (an atomicAdd per term would sum in whatever order the
                    // threads ran).
                    Tensor terms = Tensor::empty({plan.numel}, a.dtype(), a.device());
                    launch(to_string(op), binary_backward_kernel<Rule, T>, blocks_for(plan.numel), a.data<T>(),
                           b.data<T>(), gy.data<T>(), terms.data<T>(), plan, operand, false);
                    sum_into(terms.data<T>(), plan_reduction(layout), target.grad->data<T>(), T(1), target.accumulate,
                             a.device());
                }
            });
        });
    }

    void sum_to(const Tensor& x, Tensor& y, double scale) override {
        use_device(x, "sum");
        const ReducePlan plan = plan_reduction(broadcast_layout(y, x));
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            sum_into(x.data<T>(), plan, y.data<T>(), T(scale), true, x.device());
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
            max_rows(x.data<T>(), static_cast<const int64_t*>(nullptr), outer * inner, n, inner, values.data<T>(),
                     argmax.data<int64_t>(), x.device());
        });
    }

    void gemm(const GemmArgs& args) override { cuda::gemm(args); }

    // cuBLAS has no use for a packed copy: keep the matrix and remember whether it is B^T.
    PackedMatrix pack_matrix(const Tensor& b, bool transpose, int64_t groups) override {
        return {b, b.shape()[transpose ? 1 : 0], b.shape()[transpose ? 0 : 1], groups, transpose};
    }

    // One GEMM per group g: C_g [M, w] = A B[:, g w : (g + 1) w] (+ the addend's columns of group g,
    // copied into C_g first, or beta C_g), w = N / groups.
    void gemm_packed(const Tensor& a, const PackedMatrix& b, const void* addend, const Tensor& bias, double beta,
                     Tensor& c) override {
        use_device(c, "gemm_packed");
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
            g.device = c.device();
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
        use_device(x, s.op);
        const cuda::IndexCheck check = cuda::index_check(x.device().index, s.op);
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            launch(s.op, gather_kernel<T>, blocks_for(s.outer * s.m * s.inner), x.data<T>(), index.data<int64_t>(), s,
                   y.data<T>(), check);
        });
    }

    void scatter_add(const Tensor& gy, const Tensor& index, const GatherSpec& s, Tensor& gx) override {
        use_device(gy, s.op);
        const cuda::IndexCheck check = cuda::index_check(gy.device().index, s.op);
        dispatch_float(gy.dtype(), [&](auto t) {
            using T = decltype(t);
            launch(s.op, scatter_add_kernel<T>, blocks_for(s.outer * s.m * s.inner), gy.data<T>(),
                   index.data<int64_t>(), s, gx.data<T>(), check);
        });
    }

    void softmax(const Tensor& x, int64_t outer, int64_t n, int64_t inner, bool log, Tensor& y) override {
        use_device(x, "softmax");
        const int64_t rows = outer * inner;
        dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            with_width(team_width(rows, n, inner), [&](auto w) {
                constexpr int W = decltype(w)::value;
                launch("softmax", softmax_kernel<T, W>, blocks_for(rows * W), x.data<T>(), y.data<T>(), rows, n, inner,
                       log);
            });
        });
    }

    void softmax_backward(const Tensor& y, const Tensor& gy, int64_t outer, int64_t n, int64_t inner, bool log,
                          Tensor& gx) override {
        use_device(y, "softmax");
        const int64_t rows = outer * inner;
        dispatch_float(y.dtype(), [&](auto t) {
            using T = decltype(t);
            with_width(team_width(rows, n, inner), [&](auto w) {
                constexpr int W = decltype(w)::value;
                launch("softmax", softmax_backward_kernel<T, W>, blocks_for(rows * W), y.data<T>(), gy.data<T>(),
                       gx.data<T>(), rows, n, inner, log);
            });
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
};

}  // namespace

Backend& cuda::cuda_backend() {
    static CudaBackend* instance = new CudaBackend;  // never destroyed: tensors may outlive statics
    return *instance;
}

}  // namespace tapegrad
