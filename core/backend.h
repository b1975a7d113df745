/// \file
/// The kernel interface: everything an op needs from a device, implemented once for the CPU
/// (cpu/cpu_backend.cpp) and once for CUDA (cuda/cuda_backend.cu). Ops never ask which device
/// they run on: they call backend_for(tensor.device()) and the kernels below. Tensors passed in
/// are contiguous, already allocated on that device, with dtypes checked by the op.
///
/// Convention (from llm.c): a kernel whose output is a gradient ACCUMULATES into it (`+=`), so the
/// gradient of a tensor used twice is the sum of both uses; forward kernels overwrite. The
/// backward kernels that take `accumulate` are told by the engine (InputGrads::out,
/// autograd/tape.h) when theirs is the FIRST gradient to reach a tensor: they then write (`=`)
/// into an uninitialised buffer, saving a zero fill and a read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "device.h"
#include "elementwise_math.h"
#include "indexing.h"
#include "tensor.h"

namespace tapegrad {

/// Broadcast plan of a binary op: output shape, and the strides of a and b over it (0 where the
/// operand is broadcast). Built by ops/elementwise.cpp, consumed by both backends.
struct BroadcastPlan {
    /// shapes equal the output shape
    ///@{
    StridedLayout a, b;
    ///@}
    int64_t numel = 0;  ///< the number of elements of the output
    bool same_shape = false;  ///< no broadcasting: a, b and the output are flat arrays of numel
};

/// C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b] for b < batch, all row-major; op(X) = X or X^T.
/// A is [M, K] after op, B is [K, N] after op, C is [M, N]; lda/ldb/ldc are row strides.
struct GemmArgs {
    /// whether op(A) is A^T, whether op(B) is B^T
    ///@{
    bool transpose_a = false, transpose_b = false;
    ///@}
    /// op(A) is [m, k], op(B) is [k, n], C is [m, n]
    ///@{
    int64_t m = 0, n = 0, k = 0;
    ///@}
    /// C = alpha op(A) op(B) + beta C
    ///@{
    double alpha = 1.0, beta = 0.0;
    ///@}
    const void* a = nullptr;  ///< A's first element
    const void* b = nullptr;  ///< B's first element
    void* c = nullptr;  ///< C's first element
    /// the row strides of A, B and C, in elements
    ///@{
    int64_t lda = 0, ldb = 0, ldc = 0;
    ///@}
    /// element strides between batches
    ///@{
    int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;
    ///@}
    DType dtype = DType::Float32;  ///< the dtype of A, B and C (float32 or float64)
    Device device = Device::cpu();  ///< where A, B and C live (CUDA makes it current and uses its cuBLAS handle)
};

/// Optimizer hyperparameters for the fused update kernels (math in core/optimizer_math.h).
struct AdamHyper {
    /// Adam's step size, moment decays, denominator epsilon and weight decay
    ///@{
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
    ///@}
    bool decoupled = false;   ///< AdamW: decay the weights directly instead of adding wd * p to g
    /// 1 - beta^t for the current step t
    ///@{
    double bias_correction1 = 1.0, bias_correction2 = 1.0;
    ///@}
};

/// A matrix B [K, N] prepared by Backend::pack_matrix for repeated products with it.
struct PackedMatrix {
    Tensor data;              ///< CPU: B row-major [K, N] (cpu/cpu_gemm.h); CUDA: the matrix handed in
    /// B's extents
    ///@{
    int64_t k = 0, n = 0;
    ///@}
    int64_t groups = 1;       ///< products are written group-major, [groups, M, N / groups]
    bool transposed = false;  ///< data holds B^T [N, K] (CUDA keeps the caller's matrix as it is)
};

/// SGD's hyperparameters for the fused update kernel (math in core/optimizer_math.h): PyTorch's torch.optim.SGD.
struct SgdHyper {
    /// step size, momentum, dampening of the momentum, weight decay
    ///@{
    double lr = 1e-2, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
    ///@}
    bool nesterov = false;  ///< Nesterov momentum
    bool first_step = true;  ///< the momentum buffer starts as the first gradient itself
};

/// The kernels of one device type: every op reaches its device through this interface (CPU: cpu/cpu_backend.cpp, CUDA: cuda/cuda_backend.cu), chosen by backend_for(tensor.device()).
class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;  ///< the backend's name ("cpu", "cuda")

    // ---- memory ----
    virtual void* allocate(Device device, size_t bytes) = 0;  ///< `bytes` of uninitialised memory on `device`
    virtual void deallocate(Device device, void* ptr, size_t bytes) = 0;  ///< returns memory that allocate() gave
    virtual void copy_from_host(void* dst, const void* host_src, size_t bytes) = 0;  ///< device memory <- host memory
    virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;  ///< host memory <- device memory
    virtual void copy_within(void* dst, const void* src, size_t bytes) = 0;  ///< device memory <- device memory (same device)
    virtual void fill(Tensor& y, double value) = 0;  ///< every element of y = value
    /// y = x converted to y's dtype (float32 <-> float64)
    virtual void cast(const Tensor& x, Tensor& y) = 0;

    // ---- elementwise ----
    /// y = f(x)
    virtual void unary(UnaryOp op, double scalar, const Tensor& x, Tensor& y) = 0;
    /// gx += f'(x) * gy, or gx = f'(x) * gy when !accumulate (kernels may use the saved output y,
    /// e.g. sigmoid' = y (1 - y))
    virtual void unary_backward(UnaryOp op, double scalar, const Tensor& x, const Tensor& y, const Tensor& gy,
                                Tensor& gx, bool accumulate) = 0;
    /// y = a (op) b, broadcast per plan
    virtual void binary(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, Tensor& y) = 0;
    /// Where binary_backward writes one operand's gradient: `grad` of the operand's shape, added to
    /// (accumulate) or overwritten; a null grad is an operand that needs no gradient.
    struct OperandGrad {
        Tensor* grad = nullptr;  ///< the operand's gradient, or null when it needs none
        bool accumulate = false;  ///< add to *grad (true) or overwrite it (false)
    };
    /// ga += d(a op b)/da * gy and gb += d(a op b)/db * gy (= when !accumulate). Where an operand was
    /// broadcast, the terms of its repeated elements sum into it. When neither was, both gradients
    /// come from one pass over gy, a and b.
    virtual void binary_backward(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b,
                                 const Tensor& gy, OperandGrad ga, OperandGrad gb) = 0;

    // ---- reductions and their adjoints ----
    /// y += scale * (x summed over the dims where y has extent 1); y.dim() == x.dim().
    virtual void sum_to(const Tensor& x, Tensor& y, double scale) = 0;
    /// x += scale * broadcast(y) (the adjoint of sum_to), or x = scale * broadcast(y) when
    /// !accumulate (a first gradient: no zero fill); y.dim() == x.dim().
    virtual void broadcast_add(const Tensor& y, Tensor& x, double scale, bool accumulate) = 0;
    /// x viewed as [outer, n, inner]: values[o, i] = max_j x[o, j, i], argmax (Int64) = first j attaining it.
    virtual void max_axis(const Tensor& x, int64_t outer, int64_t n, int64_t inner, Tensor& values,
                          Tensor& argmax) = 0;

    // ---- linear algebra ----
    virtual void gemm(const GemmArgs& args) = 0;  ///< C = alpha op(A) op(B) + beta C, as GemmArgs says (cuBLAS, or libxsmm/OpenBLAS on the CPU)

    /// B = b [K, N], or b^T when `transpose` (b [N, K]), prepared for many gemm_packed calls: a loop
    /// that multiplies by one weight at every step packs it once. groups > 1: the products come out
    /// group-major (N a multiple of groups).
    virtual PackedMatrix pack_matrix(const Tensor& b, bool transpose, int64_t groups) = 0;
    /// c = a [M, K] B + (addend [M, N] when not null, else beta * c) + bias [N] (when defined), c
    /// [M, N] or, for groups > 1, [groups, M, N / groups]; a, c, addend contiguous.
    virtual void gemm_packed(const Tensor& a, const PackedMatrix& b, const void* addend, const Tensor& bias,
                             double beta, Tensor& c) = 0;

    // ---- data movement ----
    /// dst[dst_layout(i)] (+)= src[src_layout(i)] for every i < numel(src_layout.shape): transpose,
    /// slice, concat and their backward passes are all this one kernel.
    virtual void strided_copy(const Tensor& src, const StridedLayout& src_layout, Tensor& dst,
                              const StridedLayout& dst_layout, bool accumulate) = 0;
    /// x viewed as [outer, n, inner], y as [outer, m, inner]:
    ///   y[o, j, i] = x[o, index[o*is_o + j*is_j + i*is_i], i]
    /// index_select uses strides (0, 1, 0); gather (take along axis) uses (inner, 0, 1) with m = 1.
    struct GatherSpec {
        /// x, y and index viewed as [outer, n or m, inner]
        ///@{
        int64_t outer, n, inner, m;
        ///@}
        /// the strides of index along outer, m and inner (see above)
        ///@{
        int64_t index_stride_outer, index_stride_m, index_stride_inner;
        ///@}
        /// the op that gathers, named by the CUDA backend's deferred report of an out-of-range index
        /// (cuda/index_errors.h; the CPU's are checked before the kernel, ops/shape_ops.cpp)
        const char* op;
    };
    /// y = x gathered as spec says (index_select, gather).
    virtual void gather(const Tensor& x, const Tensor& index, const GatherSpec& spec, Tensor& y) = 0;
    /// The adjoint: gx[o, index[...], i] += gy[o, j, i] (indices may repeat: scatter-ADD).
    virtual void scatter_add(const Tensor& gy, const Tensor& index, const GatherSpec& spec, Tensor& gx) = 0;

    // ---- softmax over the middle axis of [outer, n, inner] ----
    /// y = softmax(x) or log_softmax(x)
    virtual void softmax(const Tensor& x, int64_t outer, int64_t n, int64_t inner, bool log, Tensor& y) = 0;
    /// softmax:     gx += y * (gy - sum_j gy_j y_j)
    /// log_softmax: gx += gy - exp(y) * sum_j gy_j
    virtual void softmax_backward(const Tensor& y, const Tensor& gy, int64_t outer, int64_t n, int64_t inner,
                                  bool log, Tensor& gx) = 0;

    // ---- optimizer updates, in place ----
    /// One Adam/AdamW step in place: m, v <- the moments, param <- param - lr m̂ / (√v̂ + eps) (core/optimizer_math.h).
    virtual void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamHyper& hyper) = 0;
    /// momentum_buffer is unused (may be undefined) when hyper.momentum == 0
    virtual void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdHyper& hyper) = 0;

    // ---- randomness ----
    /// mask[i] = (philox_uniform(seed, offset + i) >= p) ? 1 / (1 - p) : 0
    virtual void dropout_mask(Tensor& mask, double p, uint64_t seed, uint64_t offset) = 0;
};

/// The backend that owns `device`'s memory and kernels: the CPU's always, CUDA's when the program
/// links libtapegrad_cuda (cuda/runtime.h). Throws if it does not, or the device does not exist.
Backend& backend_for(Device device);
/// The CPU backend (cpu/cpu_backend.cpp).
Backend& cpu_backend();

}  // namespace tapegrad
