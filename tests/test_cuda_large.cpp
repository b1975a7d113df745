// Large sizes and GPU training: what the op-by-op GPU suite (test_cuda) does not reach.
//   - a float32 tensor of more than 2^31 elements, end to end (64-bit indexing);
//   - float32 GEMM and reductions at large sizes against the CPU, with error bounds derived from
//     float32 rounding (and, for the GEMM, clearly below what TF32 would give);
//   - the packed recurrent product (RecurrentLinear, Backend::gemm_packed), the optimizers and
//     checkpoints of GPU tensors against the CPU;
//   - training on the GPU: a model must learn, two runs must agree bit for bit, and four models'
//     losses must match the CPU's at the same seed.
// Sizes: full on a real GPU; reduced on the host emulation of the CUDA runtime (its device name
// contains "emulation"; it runs kernel bodies on the CPU, about 1000x slower, with little device
// memory), where every case still runs, smaller. Without a device every case is reported skipped,
// with the reason.
#define BOOST_TEST_MODULE cuda_large
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "cuda/cuda.h"
#include "tests/op_table.h"
#include "tests/test_files.h"
#include "tests/gpu_available.h"
#include "tests/test_helpers.h"
#include "train/task_model.h"

using namespace tapegrad;
using namespace tapegrad::testing;

namespace {
const Device gpu = Device::cuda(0);

// float32's unit roundoff u = 2^-24: a correctly rounded operation's relative error is at most u.
const double float32_roundoff = std::numeric_limits<float>::epsilon() / 2;

// True on the host emulation of the CUDA runtime, which runs the reduced sizes below.
bool emulated() { return cuda::device_name(0).find("emulation") != std::string::npos; }

// Every size the cases use, full on a GPU and reduced on the emulation.
struct Sizes {
    int64_t flat;             // case 1: elements of the flat float32 tensor
    int64_t rows, cols;       // case 1: the broadcast [rows, cols] tensor
    int64_t m, k, n;          // case 2: [m, k] x [k, n]
    int64_t batch, bm, bk, bn;  // case 2: [batch, bm, bk] x [batch, bk, bn]
    int64_t sum_n;            // case 3: the long float32 sum
    int64_t long_rows, row_length;  // case 3: rows longer than a 256-thread block
    int64_t packed_n, packed_k, packed_steps;  // case 4: h [N, K], T steps
    int64_t optim_rows, optim_cols;  // case 5: the largest parameter
    int64_t learn_steps;      // case 7: training steps, after which the loss must have fallen
    double learn_factor;      // case 7: by this factor
    int64_t repeat_steps;     // case 7: steps of the second run, compared bit for bit
    int64_t compare_steps;    // case 8: training steps of each model on both devices
};

const Sizes& sizes() {
    // GPU: 2^31 + 7 floats (8.6 GB; case 1 holds at most four such tensors at once) and a
    // [524309, 4099] tensor (2,149,142,591 elements, past 2^31 too).
    static const Sizes full{int64_t(1) << 31 | 7, 524309, 4099, 2048, 2048, 2048, 8, 512, 1024, 384,
                            int64_t(1) << 24, 64, 5000, 64, 256, 8, 1024, 1031, 60, 4.0, 60, 8};
    // Emulation (each GPU thread a fiber: about 1 us per thread launched, and a launch starts at
    // least a block of 256): 2^16 + 7 floats, far below the 2^24 ones at which a float32 running sum
    // stops growing, so case 1's sums there only catch errors larger than a tree's; the suite takes
    // about 30 s of CPU time (half of it the 30 training steps of case 7).
    static const Sizes reduced{(int64_t(1) << 16) + 7, 263, 257, 192, 160, 224, 3, 48, 80, 40,
                               int64_t(1) << 18, 6, 1000, 9, 37, 5, 37, 19, 30, 1.5, 5, 2};
    static const Sizes& chosen = emulated() ? reduced : full;
    return chosen;
}

std::vector<double> host_values(const Tensor& t) {
    return to(t.detach(), Device::cpu()).to_double_vector();
}

// Elementwise |cpu - cuda| <= tol (1 + |cpu|), the first mismatch reported with its index.
void check_close(const Tensor& cpu, const Tensor& cuda, double tol, const std::string& what) {
    BOOST_REQUIRE_EQUAL(cpu.defined(), cuda.defined());
    if (!cpu.defined()) return;
    BOOST_REQUIRE(cpu.shape() == cuda.shape());
    BOOST_REQUIRE(cuda.device() == gpu);
    const std::vector<double> a = host_values(cpu), b = host_values(cuda);
    for (size_t i = 0; i < a.size(); ++i)
        if (!(std::fabs(a[i] - b[i]) <= tol * (1 + std::fabs(a[i])))) {
            BOOST_ERROR(what << " element " << i << ": cpu " << a[i] << ", cuda " << b[i] << " (tolerance " << tol
                             << ")");
            return;
        }
}

// Bit for bit.
void check_identical(const std::vector<double>& expected, const std::vector<double>& got, const std::string& what) {
    BOOST_REQUIRE_EQUAL(expected.size(), got.size());
    for (size_t i = 0; i < expected.size(); ++i)
        if (!(expected[i] == got[i])) {
            BOOST_ERROR(what << " element " << i << ": expected " << expected[i] << ", got " << got[i]
                             << " (bit-identical expected)");
            return;
        }
}

// A float64 leaf copy of t on `device` that requires grad.
Tensor leaf_on(const Tensor& t, Device device) {
    NoGrad no_grad;
    return to(t, device).detach().set_requires_grad();
}

// Runs `fn` on copies of `inputs` on the CPU and on the GPU, backward with the same random upstream
// gradient, and compares the output and every input's gradient to tol (float64 or float32 inputs).
void compare_devices(const std::function<Tensor(const Inputs&)>& fn, const Inputs& inputs, double tol,
                     const std::string& what) {
    BOOST_TEST_CONTEXT(what) {
        Inputs cpu_in, gpu_in;
        for (const Tensor& x : inputs) {
            cpu_in.push_back(leaf_on(x, Device::cpu()));
            gpu_in.push_back(leaf_on(x, gpu));
        }
        Tensor y_cpu = fn(cpu_in);  // backward clears the tape: one device at a time
        Generator gen(123);
        Tensor seed = Tensor::randn(y_cpu.shape(), gen, y_cpu.dtype());
        backward(y_cpu, {seed});
        Tensor y_gpu = fn(gpu_in);
        backward(y_gpu, {to(seed, gpu)});
        check_close(y_cpu, y_gpu, tol, "output");
        for (size_t i = 0; i < inputs.size(); ++i)
            check_close(cpu_in[i].grad(), gpu_in[i].grad(), tol, "gradient of input " + std::to_string(i));
    }
}

// ||got - reference||_F / ||reference||_F.
double relative_error(const std::vector<double>& got, const std::vector<double>& reference) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        diff += (got[i] - reference[i]) * (got[i] - reference[i]);
        norm += reference[i] * reference[i];
    }
    return std::sqrt(diff / norm);
}
}  // namespace

BOOST_AUTO_TEST_CASE(sizes_in_use, *boost::unit_test::precondition(GpuAvailable())) {
    BOOST_TEST_MESSAGE("device '" << cuda::device_name(0) << "': " << (emulated() ? "reduced" : "full")
                                  << " sizes (flat tensor of " << sizes().flat << " elements)");
    BOOST_CHECK_GT(sizes().rows * sizes().cols, emulated() ? int64_t(1) << 16 : int64_t(1) << 31);
}

// ---- 1. more than 2^31 elements --------------------------------------------------------------

// A float32 tensor of 2^31 + 7 elements (reduced on the emulation): fill, an elementwise op, a full
// sum, and its last elements copied back to the host; then a broadcast sum and a transpose of a
// [rows, cols] tensor of more than 2^31 elements, whose last elements hold their own row and column
// index. An int32 index anywhere (the grid-stride loop, a strided offset, the copy's byte offset)
// would wrap and write or read the wrong element, or none.
BOOST_AUTO_TEST_CASE(more_than_2_pow_31_elements, *boost::unit_test::precondition(GpuAvailable())) {
    NoGrad no_grad;
    const int64_t n = sizes().flat;
    {
        Tensor ones = Tensor::full({n}, 1.0, DType::Float32, gpu);
        Tensor y = (ones + ones) * 1.5 - 0.5;  // a binary and two unary kernels: 2.5 everywhere
        for (const auto& [name, t, value] :
             {std::tuple<const char*, Tensor, double>{"fill", ones, 1.0}, {"(x + x) 1.5 - 0.5", y, 2.5}}) {
            BOOST_TEST_CONTEXT(name) {
                const std::vector<float> tail = to(slice(t, 0, n - 8, n), Device::cpu()).to_vector<float>();
                for (size_t i = 0; i < tail.size(); ++i)
                    BOOST_CHECK_MESSAGE(tail[i] == float(value), "element " << n - 8 + int64_t(i) << " is " << tail[i]
                                                                            << ", expected " << value);
                BOOST_CHECK_EQUAL(to(slice(t, 0, 0, 1), Device::cpu()).item(), value);
                // A reduction (tree, or blocks then their partial sums) of n equal values errs by at
                // most about log2(n) u sum|x| (each element passes through about log2(n) roundings);
                // n x is the exact sum. A running sum in one float32 (atomicAdd of every element into
                // the result) stops growing at 2^24 x, far outside it.
                const double exact = double(n) * value;
                const double bound = std::log2(double(n)) * float32_roundoff * exact;
                const double total = sum(t).item();
                BOOST_CHECK_MESSAGE(std::fabs(total - exact) <= bound, "sum over " << n << " elements is " << total
                                                                                   << ", expected " << exact
                                                                                   << " within " << bound);
            }
        }
    }
    cuda::empty_cache();  // the cached blocks above do not fit the tensors below
    // y[r, c] = 1 + c + r through two broadcasts: a row [cols] and a column [rows, 1]; every value
    // is an integer below 2^24, exact in float32.
    const int64_t rows = sizes().rows, cols = sizes().cols;
    Tensor y = (Tensor::ones({rows, cols}, DType::Float32, gpu) + Tensor::arange(cols, DType::Float32, gpu)) +
               reshape(Tensor::arange(rows, DType::Float32, gpu), {rows, 1});
    const std::vector<float> last_row =
        to(slice(reshape(y, {rows * cols}), 0, (rows - 1) * cols, rows * cols), Device::cpu()).to_vector<float>();
    for (int64_t c = cols - 8; c < cols; ++c)
        BOOST_CHECK_MESSAGE(last_row[size_t(c)] == float(1 + c + rows - 1),
                            "broadcast y[" << rows - 1 << ", " << c << "] is " << last_row[size_t(c)] << ", expected "
                                           << 1 + c + rows - 1);
    // The transpose [cols, rows]: its last row is y's last column, read with stride cols.
    Tensor yt = transpose(y, 0, 1) * 1.0;
    y = Tensor();
    const std::vector<float> last_column = to(select(yt, 0, cols - 1), Device::cpu()).to_vector<float>();
    for (int64_t r = rows - 8; r < rows; ++r)
        BOOST_CHECK_MESSAGE(
            last_column[size_t(r)] == float(1 + cols - 1 + r),
            "transposed y[" << cols - 1 << ", " << r << "] is " << last_column[size_t(r)] << ", expected " << cols + r);
}

// ---- 2. float32 GEMM accuracy -----------------------------------------------------------------

namespace {
// The GPU's float32 product of a and b against the CPU's float64 product of the same float32
// values (OpenBLAS dgemm, exact to ~1e-16), and OpenBLAS's own float32 sgemm against it too.
//
// Bound, as a relative Frobenius error: 4 u sqrt(K). Each c_ij sums K products of unit-variance
// randn values, so |c| ~ sqrt(K); a float32 accumulation rounds each partial sum s_k (|s_k| ~
// sqrt(k)) with an error of about u |s_k| / sqrt(3), random in sign, which adds up to
// u sqrt(K^2 / 6) for the whole sum, a relative error of u sqrt(K / 6) (1.1e-6 at K = 2048 for the
// worst order, one running sum; a sequential float32 loop measured 8.0e-7, OpenBLAS 3.1e-7).
// 4 u sqrt(K) (1.1e-5 at K = 2048) is 10x above that: room for any summation order. TF32 (10-bit
// mantissa, unit roundoff 2^-11) rounds both inputs of every product, a relative error that does
// not shrink with K: 2.9e-4 measured (randn inputs rounded to TF32, K = 160 .. 2048), 27x above the
// bound at K = 2048 and 96x at the emulation's K = 160, so a cuBLAS that quietly used tensor-core
// TF32 for float32 fails here.
void check_gemm(const Tensor& a, const Tensor& b, int64_t k, const std::string& what,
                const std::function<Tensor(const Tensor&, const Tensor&)>& product) {
    BOOST_TEST_CONTEXT(what) {
        NoGrad no_grad;
        const double bound = 4 * float32_roundoff * std::sqrt(double(k));
        const std::vector<double> reference = product(to(a, DType::Float64), to(b, DType::Float64)).to_double_vector();
        const double cpu_error = relative_error(product(a, b).to_double_vector(), reference);
        const double gpu_error = relative_error(host_values(product(to(a, gpu), to(b, gpu))), reference);
        BOOST_TEST_MESSAGE(what << ": relative error cpu float32 " << cpu_error << ", gpu float32 " << gpu_error
                                << " (bound " << bound << ")");
        BOOST_CHECK_MESSAGE(cpu_error <= bound, "OpenBLAS float32: relative error " << cpu_error << " above " << bound);
        BOOST_CHECK_MESSAGE(gpu_error <= bound, "GPU float32: relative error " << gpu_error << " above " << bound
                                                                               << " (TF32 would give ~3e-4)");
    }
}
}  // namespace

BOOST_AUTO_TEST_CASE(float32_gemm_accuracy_against_openblas, *boost::unit_test::precondition(GpuAvailable())) {
    const Sizes& s = sizes();
    Generator gen(31);
    const Tensor a = Tensor::randn({s.m, s.k}, gen), b = Tensor::randn({s.k, s.n}, gen);
    const auto plain = [](const Tensor& x, const Tensor& y) { return matmul(x, y); };
    check_gemm(a, b, s.k, "a b", plain);
    // Transposed operands: a^T stored as [K, M], b^T as [N, K].
    const Tensor at = Tensor::randn({s.k, s.m}, gen), bt = Tensor::randn({s.n, s.k}, gen);
    check_gemm(at, b, s.k, "a^T b", [](const Tensor& x, const Tensor& y) { return matmul(transpose(x, 0, 1), y); });
    check_gemm(a, bt, s.k, "a b^T", [](const Tensor& x, const Tensor& y) { return matmul(x, transpose(y, 0, 1)); });
    const Tensor ba = Tensor::randn({s.batch, s.bm, s.bk}, gen), bb = Tensor::randn({s.batch, s.bk, s.bn}, gen);
    check_gemm(ba, bb, s.bk, "batched", plain);
}

// ---- 3. large sums and long rows --------------------------------------------------------------

// 2^24 float32 randn values summed on the GPU against their float64 sum on the CPU: within
// log2(n) u sum|x|, what a tree reduction guarantees (each value passes through about log2(n)
// float32 roundings of partial sums no larger than sum|x|).
BOOST_AUTO_TEST_CASE(large_float32_sum_matches_float64, *boost::unit_test::precondition(GpuAvailable())) {
    NoGrad no_grad;
    const int64_t n = sizes().sum_n;
    Generator gen(41);
    const Tensor x = Tensor::randn({n}, gen);
    double exact = 0, absolute = 0;
    for (float v : x.to_vector<float>()) {
        exact += v;
        absolute += std::fabs(v);
    }
    const double bound = std::log2(double(n)) * float32_roundoff * absolute;
    const double total = sum(to(x, gpu)).item();
    BOOST_TEST_MESSAGE("sum of " << n << " randn: gpu " << total << ", float64 " << exact << " (bound " << bound
                                 << ")");
    BOOST_CHECK_MESSAGE(std::fabs(total - exact) <= bound, "gpu sum " << total << ", float64 sum " << exact
                                                                      << ", error above log2(n) u sum|x| = " << bound);
}

// Sum, max, softmax and log_softmax over rows longer than a 256-thread block, along the last axis
// and along the first (strided): float64 forward and backward against the CPU to 1e-10, and float32
// forward against a float64 reference of the same values, each with its float32 bound.
BOOST_AUTO_TEST_CASE(long_row_reductions_match_cpu, *boost::unit_test::precondition(GpuAvailable())) {
    const int64_t rows = sizes().long_rows, length = sizes().row_length;
    Generator gen(43);
    const Tensor x = Tensor::randn({rows, length}, gen, DType::Float64);
    for (int axis : {1, 0}) {
        BOOST_TEST_CONTEXT("axis " << axis) {
            const Tensor long_axis_input = axis == 1 ? x : transpose(x, 0, 1) * 1.0;  // the long axis is `axis`
            compare_devices([axis](const Inputs& v) { return sum(v[0], axis); }, {long_axis_input}, 1e-10, "sum");
            compare_devices([axis](const Inputs& v) { return max(v[0], axis); }, {long_axis_input}, 1e-10, "max");
            compare_devices([axis](const Inputs& v) { return softmax(v[0], axis); }, {long_axis_input}, 1e-10,
                            "softmax");
            compare_devices([axis](const Inputs& v) { return log_softmax(v[0], axis); }, {long_axis_input}, 1e-10,
                            "log_softmax");

            NoGrad no_grad;
            const Tensor x32 = to(long_axis_input, DType::Float32), x32_gpu = to(x32, gpu);
            const Tensor reference_input = to(x32, DType::Float64);  // the float32 values, exactly
            // sum: log2(n) u sum|x| per row, as above.
            const std::vector<double> sums = host_values(sum(x32_gpu, axis)),
                                      reference = sum(reference_input, axis).to_double_vector(),
                                      absolute = sum(abs(reference_input), axis).to_double_vector();
            for (size_t i = 0; i < sums.size(); ++i)
                if (!(std::fabs(sums[i] - reference[i]) <=
                      std::log2(double(length)) * float32_roundoff * absolute[i])) {
                    BOOST_ERROR("float32 sum of row " << i << ": gpu " << sums[i] << ", float64 " << reference[i]);
                    break;
                }
            // max: exact in any order.
            check_identical(max(reference_input, axis).to_double_vector(), host_values(max(x32_gpu, axis)),
                            "float32 max");
            // softmax: exp and the division add a few u to the row sum's relative error, about
            // u sqrt(n / 3) for a sum of n positive terms (3e-6 at n = 5000); 2e-5 of each value.
            const std::vector<double> p = host_values(softmax(x32_gpu, axis)),
                                      p_ref = softmax(reference_input, axis).to_double_vector();
            for (size_t i = 0; i < p.size(); ++i)
                if (!(std::fabs(p[i] - p_ref[i]) <= 2e-5 * p_ref[i])) {
                    BOOST_ERROR("float32 softmax element " << i << ": gpu " << p[i] << ", float64 " << p_ref[i]
                                                           << " (relative 2e-5)");
                    break;
                }
            // log_softmax = x - max - log(row sum): absolute 2e-5 (1 + |value|).
            const std::vector<double> lp = host_values(log_softmax(x32_gpu, axis)),
                                      lp_ref = log_softmax(reference_input, axis).to_double_vector();
            for (size_t i = 0; i < lp.size(); ++i)
                if (!(std::fabs(lp[i] - lp_ref[i]) <= 2e-5 * (1 + std::fabs(lp_ref[i])))) {
                    BOOST_ERROR("float32 log_softmax element " << i << ": gpu " << lp[i] << ", float64 " << lp_ref[i]);
                    break;
                }
        }
    }
}

// ---- 4. the packed recurrent product ----------------------------------------------------------

// RecurrentLinear (Backend::gemm_packed with a matrix from pack_matrix: the product every
// recurrent cell's fast schedule runs per step) on the CPU and the GPU: T steps of
// z_t = A_t + b + h_t U^T, h_{t+1} = tanh(the mean of z_t's gates), with G = gates K; the output
// stacks every z_t, so that each step's forward and each step's gradient count. Float64 to 1e-10,
// float32 to 2e-5 (test_cuda's float32 tolerance: the GEMMs sum in another order); 1, 3 and 4
// gate groups, with and without the per-step addend A and the bias b. The mean, not the sum: with
// the sum, dL/dh_t grows about `gates` times per step back, and so does float32 rounding (4 gates,
// 5 steps: the CPU's own float32 dL/dU 1.7e-5 from its float64 one, the devices 2.5e-5 apart on the
// emulation while float64 agreed to 1e-10); with the mean, 1.8e-6 on the CPU.
BOOST_AUTO_TEST_CASE(packed_recurrent_linear_matches_cpu, *boost::unit_test::precondition(GpuAvailable())) {
    const int64_t n = sizes().packed_n, k = sizes().packed_k, steps = sizes().packed_steps;
    for (int64_t gates : {1, 3, 4})
        for (bool per_step : {true, false})
            for (bool bias : {true, false}) {
                const int64_t g = gates * k;
                Inputs inputs = {input({n, k}, 60), input({g, k}, 61, -0.3, 0.3)};
                if (per_step) inputs.push_back(input({steps, n, g}, 62));
                if (bias) inputs.push_back(input({g}, 63));
                const auto recurrence = [=](const Inputs& v) {
                    RecurrentLinear product(v[1], per_step ? v[2] : Tensor(), bias ? v.back() : Tensor(), steps, gates);
                    Tensor h = v[0];
                    std::vector<Tensor> zs;
                    for (int64_t t = 0; t < steps; ++t) {
                        Tensor z = product.step(h);  // [N, G], or gate-major [gates, N, K]
                        zs.push_back(z);
                        h = tanh(gates > 1 ? mean(z, 0) : z);
                    }
                    return stack(zs, 0);
                };
                const std::string what =
                    std::to_string(gates) + " gates" + (per_step ? ", addend" : "") + (bias ? ", bias" : "");
                compare_devices(recurrence, inputs, 1e-10, what + ", float64");
                Inputs inputs32;
                for (const Tensor& t : inputs) inputs32.push_back(to(t.detach(), DType::Float32));
                compare_devices(recurrence, inputs32, 2e-5, what + ", float32");
            }
}

// ---- 5. optimizers ----------------------------------------------------------------------------

namespace {
// Five steps of `make`'s optimizer over parameters of three shapes (the largest [optim_rows,
// optim_cols]) on `device`, with the same gradients each step on both devices (drawn from a fixed
// seed), clipped to a global norm of 1 first when `clip`; returns the parameters and the norms
// clip_grad_norm saw.
struct OptimizerRun {
    std::vector<std::vector<double>> params;
    std::vector<double> norms;
};
OptimizerRun run_optimizer(const std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>& make, bool clip,
                           Device device) {
    Generator init(51);
    const std::vector<Shape> shapes = {{sizes().optim_rows, sizes().optim_cols}, {sizes().optim_cols}, {5, 7, 3}};
    std::vector<Tensor> params;
    for (const Shape& shape : shapes)
        params.push_back(Tensor::randn(shape, init, DType::Float64, device).set_requires_grad());
    std::unique_ptr<Optimizer> optimizer = make(params);
    Generator grads(52);
    OptimizerRun run;
    for (int step = 0; step < 5; ++step) {
        for (Tensor& p : params) p.set_grad(Tensor::randn(p.shape(), grads, DType::Float64, device) * 0.5);
        if (clip) run.norms.push_back(clip_grad_norm(params, 1.0));
        optimizer->step();
    }
    for (const Tensor& p : params) run.params.push_back(host_values(p));
    return run;
}
}  // namespace

// SGD (momentum with dampening and weight decay; Nesterov), Adam with L2 weight decay, AdamW, each
// with and without global-norm clipping: five steps on the GPU against the same on the CPU, float64
// to 1e-10 (the updates are the same elementwise formulas; only the clipping norm's sum runs in
// another order).
BOOST_AUTO_TEST_CASE(optimizers_match_cpu, *boost::unit_test::precondition(GpuAvailable())) {
    using Make = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;
    const std::vector<std::pair<std::string, Make>> optimizers = {
        {"sgd momentum",
         [](std::vector<Tensor> p) {
             return std::make_unique<SGD>(p, SgdOptions{0.1, 0.9, 0.1, 0.01});
         }},
        {"sgd nesterov",
         [](std::vector<Tensor> p) {
             SgdOptions o{0.05, 0.8, 0.0, 0.02};
             o.nesterov = true;
             return std::make_unique<SGD>(p, o);
         }},
        {"adam",
         [](std::vector<Tensor> p) {
             return std::make_unique<Adam>(p, AdamOptions{0.01, 0.9, 0.99, 1e-8, 0.05});
         }},
        {"adamw",
         [](std::vector<Tensor> p) {
             return std::make_unique<AdamW>(p, AdamOptions{0.01, 0.9, 0.999, 1e-8, 0.1});
         }},
    };
    for (const auto& [name, make] : optimizers)
        for (bool clip : {false, true}) {
            BOOST_TEST_CONTEXT(name << (clip ? ", clipped" : "")) {
                const OptimizerRun cpu = run_optimizer(make, clip, Device::cpu()),
                                   cuda = run_optimizer(make, clip, gpu);
                for (size_t i = 0; i < cpu.norms.size(); ++i)
                    BOOST_CHECK_CLOSE(cpu.norms[i], cuda.norms[i], 1e-8);  // percent: 1e-10
                if (clip) BOOST_CHECK_GT(cpu.norms[0], 1.0);               // the clip did scale
                for (size_t p = 0; p < cpu.params.size(); ++p)
                    for (size_t i = 0; i < cpu.params[p].size(); ++i)
                        if (!(std::fabs(cpu.params[p][i] - cuda.params[p][i]) <=
                              1e-10 * (1 + std::fabs(cpu.params[p][i])))) {
                            BOOST_ERROR("parameter " << p << " element " << i << ": cpu " << cpu.params[p][i]
                                                     << ", cuda " << cuda.params[p][i]);
                            break;
                        }
            }
        }
}

// ---- 6. checkpoints of GPU tensors ------------------------------------------------------------

namespace {
// The formal-task model of tapegrad-train (train/task_model.h): one-hot input -> encoder -> ReLU
// readout at every position.
std::unique_ptr<train::TaskModel> formal_model(train::ModelKind kind, data::FormalTask task, int64_t hidden,
                                               uint64_t seed) {
    train::ModelConfig config;
    config.kind = kind;
    config.hidden = hidden;
    config.ql.block_size = 3;
    Generator gen(seed);
    return train::TaskModel::for_formal_task(config, data::input_vocab_size(task) + 1, data::output_vocab_size(task),
                                             gen);
}

// One step's loss of the trainer's formal-task objective: cross-entropy of the logits at the last
// L_out positions.
Tensor formal_loss(train::TaskModel& model, const data::FormalBatch& batch, data::FormalTask task, DType dtype,
                   Device device) {
    const int64_t outputs = batch.targets.size(1);
    const Tensor x = data::model_input(batch.inputs, data::input_vocab_size(task), outputs, dtype, device);
    const Tensor logits = model.per_position(x);
    return cross_entropy(slice(logits, 1, logits.size(1) - outputs, logits.size(1)), to(batch.targets, device));
}

// `steps` Adam steps of `model` on batches of `task` at length `length` drawn from `data_gen`;
// returns each step's loss.
std::vector<double> train_steps(train::TaskModel& model, Optimizer& optimizer, data::FormalTask task, int64_t steps,
                                int64_t batch_size, int64_t length, Generator& data_gen, DType dtype, Device device) {
    std::vector<double> losses;
    for (int64_t step = 0; step < steps; ++step) {
        const data::FormalBatch batch = data::generate_batch(task, batch_size, length, data_gen);
        optimizer.zero_grad();
        Tensor loss = formal_loss(model, batch, task, dtype, device);
        losses.push_back(loss.item());
        backward(loss);
        clip_grad_norm(model.parameters(), 1.0);
        optimizer.step();
    }
    return losses;
}
}  // namespace

// A model trained two steps on the GPU, saved with its Adam state, loaded into a fresh CPU model
// and a fresh GPU model (made from another seed, so every value must come from the file), each with
// its own Adam: parameters, moments and the step count bit-identical to the saved ones, and each
// loaded tensor on its own model's device.
BOOST_AUTO_TEST_CASE(checkpoint_of_gpu_model_loads_on_both_devices, *boost::unit_test::precondition(GpuAvailable())) {
    const data::FormalTask task = data::FormalTask::EvenPairs;
    std::unique_ptr<train::TaskModel> model = formal_model(train::ModelKind::LSTM, task, 12, 1);
    model->to(gpu);
    Adam adam(model->parameters(), AdamOptions{0.01});
    Generator data_gen(2);
    train_steps(*model, adam, task, 2, 8, 5, data_gen, DType::Float32, gpu);
    TempDir dir("tapegrad_cuda_large", "checkpoint");
    const std::string path = (dir.path / "gpu.safetensors").string();
    save_checkpoint(path, *model, &adam);

    const auto saved_params = model->named_parameters();
    const auto saved_state = adam.state();
    BOOST_REQUIRE(!saved_state.empty());
    for (Device device : {Device::cpu(), gpu}) {
        BOOST_TEST_CONTEXT("loaded on " << to_string(device)) {
            std::unique_ptr<train::TaskModel> loaded = formal_model(train::ModelKind::LSTM, task, 12, 99);
            loaded->to(device);
            Adam loaded_adam(loaded->parameters(), AdamOptions{0.01});
            load_checkpoint(path, *loaded, &loaded_adam);
            const auto params = loaded->named_parameters();
            BOOST_REQUIRE_EQUAL(params.size(), saved_params.size());
            for (size_t i = 0; i < params.size(); ++i) {
                BOOST_CHECK(params[i].second.device() == device);
                check_identical(host_values(saved_params[i].second), host_values(params[i].second), params[i].first);
            }
            const auto state = loaded_adam.state();
            BOOST_REQUIRE_EQUAL(state.size(), saved_state.size());
            for (size_t i = 0; i < state.size(); ++i) {
                BOOST_CHECK_EQUAL(state[i].first, saved_state[i].first);
                check_identical(host_values(*saved_state[i].second), host_values(*state[i].second),
                                "optimizer " + state[i].first);
            }
            BOOST_CHECK_EQUAL(loaded_adam.steps(), 2);
        }
    }
}

// ---- 7. training on the GPU -------------------------------------------------------------------

namespace {
// One training run of the case below: the model, its optimizer and its batches' stream, on the GPU.
struct EvenPairsRun {
    static constexpr data::FormalTask task = data::FormalTask::EvenPairs;
    std::unique_ptr<train::TaskModel> model = formal_model(train::ModelKind::LSTM, task, 16, 7);
    std::unique_ptr<Adam> adam;
    Generator data_gen{8};
    EvenPairsRun() {
        model->to(gpu);
        adam = std::make_unique<Adam>(model->parameters(), AdamOptions{0.05});
    }
    // `steps` more steps on batches of 32 at length 2; each step's loss.
    std::vector<double> train(int64_t steps) {
        return train_steps(*model, *adam, task, steps, 32, 2, data_gen, DType::Float32, gpu);
    }
    std::vector<double> parameters() const {
        std::vector<double> values;
        for (const Tensor& p : model->parameters())
            for (double v : host_values(p)) values.push_back(v);
        return values;
    }
};
}  // namespace

// An LSTM classifier (hidden 16) on even_pairs at length 2 (are the two symbols equal?), float32,
// Adam on batches of 32 on the GPU: after 60 steps the mean loss of the last 10 steps must be below
// a quarter of the first step's (ln 2 at the start, an untrained model's guess; the same loop on
// the CPU from six seeds ends every time below 0.08 by then). The emulation runs 30 steps and asks
// for a fall by 1.5x, which this seed gives (0.69 -> 0.37 on the CPU, the same on the emulation)
// but not every seed does: a weaker check, of this trajectory. A second run from the same seed must
// give bit-identical losses and parameters (all 60 steps on a GPU; the first 5 on the emulation,
// whose sequential atomics are deterministic anyway). The model has no embedding (one-hot inputs), so no
// scatter_add; on a real GPU the check covers the reductions into broadcast operands (bias
// gradients, sum_to, sum), which used atomicAdd (order varies from run to run) before
// deterministic reductions: with atomics it fails by rounding, with them it must hold exactly.
BOOST_AUTO_TEST_CASE(gpu_training_learns_and_is_bit_reproducible, *boost::unit_test::precondition(GpuAvailable())) {
    const int64_t steps = sizes().learn_steps, repeated = sizes().repeat_steps;
    const double factor = sizes().learn_factor;
    EvenPairsRun first, second;
    std::vector<double> losses = first.train(repeated);
    const std::vector<double> params_at_repeat = first.parameters();
    for (double loss : first.train(steps - repeated)) losses.push_back(loss);
    const std::vector<double> again = second.train(repeated);

    double last = 0;
    for (size_t i = losses.size() - 10; i < losses.size(); ++i) last += losses[i] / 10;
    BOOST_TEST_MESSAGE("even_pairs LSTM on the GPU: loss " << losses.front() << " -> " << last
                                                           << " (mean of the last 10 steps)");
    BOOST_CHECK_MESSAGE(last < losses.front() / factor, "loss fell from " << losses.front() << " to only " << last
                                                                          << " (expected below 1/" << factor
                                                                          << " of it)");
    check_identical(std::vector<double>(losses.begin(), losses.begin() + repeated), again, "loss of the second run");
    check_identical(params_at_repeat, second.parameters(),
                    "parameters of the second run after " + std::to_string(repeated) + " steps");
}

// ---- 8. CPU and GPU training at the same seed -------------------------------------------------

// LSTM, GRU, QL-LSTM (K = 3, which does not divide the length) and PR-LSTM, each built from one seed
// on both devices in float64 and trained 8 Adam steps (2 on the emulation; clipped to norm 1, as
// tapegrad-train) on the same batches of modular_arithmetic at length 7: every step's loss equal to
// 1e-9 relative (rounding differences of ~1e-16 per op, grown through the steps of training).
BOOST_AUTO_TEST_CASE(training_losses_match_cpu_for_four_models, *boost::unit_test::precondition(GpuAvailable())) {
    const data::FormalTask task = data::FormalTask::ModularArithmetic;
    for (train::ModelKind kind :
         {train::ModelKind::LSTM, train::ModelKind::GRU, train::ModelKind::QLLSTM, train::ModelKind::PRLSTM}) {
        BOOST_TEST_CONTEXT(train::model_name(kind)) {
            std::vector<std::vector<double>> losses;
            for (Device device : {Device::cpu(), gpu}) {
                std::unique_ptr<train::TaskModel> model = formal_model(kind, task, 10, 5);
                model->to(DType::Float64);
                model->to(device);
                Adam adam(model->parameters(), AdamOptions{0.01});
                Generator data_gen(6);
                losses.push_back(
                    train_steps(*model, adam, task, sizes().compare_steps, 6, 7, data_gen, DType::Float64, device));
            }
            for (size_t i = 0; i < losses[0].size(); ++i)
                BOOST_CHECK_MESSAGE(std::fabs(losses[0][i] - losses[1][i]) <= 1e-9 * std::fabs(losses[0][i]),
                                    "step " << i << ": cpu loss " << losses[0][i] << ", gpu loss " << losses[1][i]);
        }
    }
}
